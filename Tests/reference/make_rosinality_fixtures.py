#!/usr/bin/env python3
"""Write fixtures for `stylegan import` of rosinality StyleGAN1 checkpoints.

Upstream: https://github.com/rosinality/style-based-gan-pytorch
Made with upstream commit 07fa60be77b093dd13a46597138df409ffc3b9bc
(2021-08-26, "Merge pull request #128 from andreasjansson/add-cog"), file model.py.

Usage (from the repository root):
    python3 Tests/reference/make_rosinality_fixtures.py UPSTREAM [--out Tests/Fixtures/import]

UPSTREAM is either a work tree of the upstream repository (a folder holding
model.py) or its git directory (model.py is then exported with
`git --git-dir=UPSTREAM show HEAD:model.py`). model.py is copied to a temporary
folder and imported unchanged; its classes build the networks.

The upstream Generator/Discriminator hard-code 512-channel blocks up to 1024 px.
To keep the files small, the script builds the upstream StyledGenerator(32) and
Discriminator(fused=True, from_rgb_activate=True) (train.py's default) and then
replaces their `progression` / `to_rgb` / `from_rgb` ModuleLists and D's `linear`
with narrow ones built from the same upstream classes, with the same flags,
kernels and paddings and every channel count divided by 16 (512->32 ... 16->1).
The style dim (code_dim) is 32, n_mlp 8. Module names are unchanged, so the
state_dict keys are those of a real checkpoint. All 9 progression entries are
kept, as upstream always has them.

Every parameter is perturbed with seeded noise (biases, the zero-initialised
noise weights, the AdaIN style biases), g_running is a separately perturbed copy
of generator (as an EMA would be), and one real Adam step is taken on each
optimizer (param groups as train.py builds them) so their states are not empty.

The script also re-implements both forward passes functionally from the state
dicts alone (the semantics written down in ROSINALITY.md) and checks that they
match the upstream modules; see `ref_generator` / `ref_discriminator`.

Files written (R in 8, 32, 256; step = log2(R) - 2); see ROSINALITY.md.
"""

import argparse
import importlib.util
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

UPSTREAM_COMMIT = "07fa60be77b093dd13a46597138df409ffc3b9bc"
CODE_DIM = 32
N_MLP = 8
DIV = 16
RESOLUTIONS = [8, 32, 256]
LR = 0.001


# --------------------------------------------------------------------------
# upstream import
# --------------------------------------------------------------------------

def load_upstream(path):
    """Copy upstream model.py into a temp dir and import it. Returns (module, commit)."""
    tmp = tempfile.mkdtemp(prefix="rosinality_")
    dst = os.path.join(tmp, "rosinality_model.py")
    commit = None
    if os.path.isfile(os.path.join(path, "model.py")):
        shutil.copy(os.path.join(path, "model.py"), dst)
        try:
            commit = subprocess.check_output(
                ["git", "-C", path, "rev-parse", "HEAD"], text=True,
                stderr=subprocess.DEVNULL).strip()
        except Exception:
            commit = None
    else:
        src = subprocess.check_output(
            ["git", "--git-dir=" + path, "show", "HEAD:model.py"])
        with open(dst, "wb") as f:
            f.write(src)
        commit = subprocess.check_output(
            ["git", "--git-dir=" + path, "rev-parse", "HEAD"], text=True).strip()
    if commit != UPSTREAM_COMMIT:
        print(f"warning: upstream commit is {commit}, fixtures were made with "
              f"{UPSTREAM_COMMIT}", file=sys.stderr)
    spec = importlib.util.spec_from_file_location("rosinality_model", dst)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    shutil.rmtree(tmp, ignore_errors=True)
    return mod, commit


# --------------------------------------------------------------------------
# narrow networks from upstream classes
# --------------------------------------------------------------------------

def c(n):
    return max(1, n // DIV)


def make_generator(M):
    """Upstream StyledGenerator(CODE_DIM) with narrow progression/to_rgb."""
    g = M.StyledGenerator(CODE_DIM, n_mlp=N_MLP)
    fused = True  # Generator(code_dim, fused=True) default
    sd = CODE_DIM  # upstream blocks use the default style_dim=512 == code_dim
    S = M.StyledConvBlock
    g.generator.progression = nn.ModuleList([
        S(c(512), c(512), 3, 1, style_dim=sd, initial=True),              # 4
        S(c(512), c(512), 3, 1, style_dim=sd, upsample=True),             # 8
        S(c(512), c(512), 3, 1, style_dim=sd, upsample=True),             # 16
        S(c(512), c(512), 3, 1, style_dim=sd, upsample=True),             # 32
        S(c(512), c(256), 3, 1, style_dim=sd, upsample=True),             # 64
        S(c(256), c(128), 3, 1, style_dim=sd, upsample=True, fused=fused),  # 128
        S(c(128), c(64), 3, 1, style_dim=sd, upsample=True, fused=fused),   # 256
        S(c(64), c(32), 3, 1, style_dim=sd, upsample=True, fused=fused),    # 512
        S(c(32), c(16), 3, 1, style_dim=sd, upsample=True, fused=fused),    # 1024
    ])
    E = M.EqualConv2d
    g.generator.to_rgb = nn.ModuleList([
        E(c(512), 3, 1), E(c(512), 3, 1), E(c(512), 3, 1), E(c(512), 3, 1),
        E(c(256), 3, 1), E(c(128), 3, 1), E(c(64), 3, 1), E(c(32), 3, 1),
        E(c(16), 3, 1),
    ])
    return g


def make_discriminator(M, from_rgb_activate=True):
    """Upstream Discriminator(fused=True, from_rgb_activate) with narrow layers."""
    d = M.Discriminator(fused=True, from_rgb_activate=from_rgb_activate)
    fused = True
    CB = M.ConvBlock
    d.progression = nn.ModuleList([
        CB(c(16), c(32), 3, 1, downsample=True, fused=fused),    # 512
        CB(c(32), c(64), 3, 1, downsample=True, fused=fused),    # 256
        CB(c(64), c(128), 3, 1, downsample=True, fused=fused),   # 128
        CB(c(128), c(256), 3, 1, downsample=True, fused=fused),  # 64
        CB(c(256), c(512), 3, 1, downsample=True),               # 32
        CB(c(512), c(512), 3, 1, downsample=True),               # 16
        CB(c(512), c(512), 3, 1, downsample=True),               # 8
        CB(c(512), c(512), 3, 1, downsample=True),               # 4
        CB(c(512) + 1, c(512), 3, 1, 4, 0),
    ])

    def make_from_rgb(out_channel):
        if from_rgb_activate:
            return nn.Sequential(M.EqualConv2d(3, out_channel, 1), nn.LeakyReLU(0.2))
        return M.EqualConv2d(3, out_channel, 1)

    d.from_rgb = nn.ModuleList([make_from_rgb(c(n)) for n in
                                [16, 32, 64, 128, 256, 512, 512, 512, 512]])
    d.n_layer = len(d.progression)
    d.linear = M.EqualLinear(c(512), 1)
    return d


@torch.no_grad()
def perturb(module, gen, scale=0.1):
    """Move every parameter away from its init (zero biases, zero noise weights,
    AdaIN 1/0 biases) with seeded noise. Buffers (Blur kernels) are left alone."""
    for name, p in module.named_parameters():
        noise = torch.randn(p.shape, generator=gen)
        if name.endswith("noise1.weight_orig") or name.endswith("noise2.weight_orig"):
            p.add_(0.5 * noise)  # upstream inits these to zero
        elif name.endswith("bias"):
            p.add_(scale * noise)  # conv/linear biases (0) and AdaIN biases (1/0)
        else:
            p.add_(0.5 * scale * noise)


# --------------------------------------------------------------------------
# independent functional forward from a state dict (documents the semantics)
# --------------------------------------------------------------------------

def _eq(w):
    """Equalised-lr scale of a *_orig weight: sqrt(2 / (size(1) * w[0][0].numel()))."""
    fan_in = w.shape[1] * (w[0][0].numel())
    return w * math.sqrt(2.0 / fan_in)


def _lrelu(x):
    return F.leaky_relu(x, 0.2)


def _blur(x):
    k = torch.tensor([[1., 2., 1.], [2., 4., 2.], [1., 2., 1.]], dtype=x.dtype) / 16
    C = x.shape[1]
    return F.conv2d(x, k.view(1, 1, 3, 3).repeat(C, 1, 1, 1), padding=1, groups=C)


def _fused_kernel(w):
    """4x4 kernel of FusedUpsample/FusedDownsample: the 3x3 kernel (already scaled)
    summed at its 4 one-pixel shifts, divided by 4."""
    w = F.pad(w, [1, 1, 1, 1])
    return (w[:, :, 1:, 1:] + w[:, :, :-1, 1:] + w[:, :, 1:, :-1] + w[:, :, :-1, :-1]) / 4


def _adain(x, s, w, prefix):
    st = F.linear(w, _eq(s[prefix + ".style.linear.weight_orig"]),
                  s[prefix + ".style.linear.bias"])
    C = x.shape[1]
    gamma, beta = st[:, :C, None, None], st[:, C:, None, None]
    mean = x.mean((2, 3), keepdim=True)
    var = x.var((2, 3), unbiased=False, keepdim=True)
    return gamma * (x - mean) / torch.sqrt(var + 1e-5) + beta


def _mapping(s, z):
    x = z / torch.sqrt((z ** 2).mean(1, keepdim=True) + 1e-8)
    for j in range(N_MLP):
        k = f"style.{2 * j + 1}.linear"
        x = _lrelu(F.linear(x, _eq(s[k + ".weight_orig"]), s[k + ".bias"]))
    return x


def _g_block(s, i, x, w, noise, batch):
    p = f"generator.progression.{i}"
    if i == 0:
        x = s[p + ".conv1.input"].repeat(batch, 1, 1, 1)  # no bias
    elif (p + ".conv1.0.weight") in s:  # fused: FusedUpsample, Blur
        wt = s[p + ".conv1.0.weight"]   # (in, out, 3, 3)
        k = _fused_kernel(wt * math.sqrt(2.0 / (wt.shape[0] * 9)))
        x = F.conv_transpose2d(x, k, s[p + ".conv1.0.bias"], stride=2, padding=1)
        x = _blur(x)                    # bias added before the blur
    else:  # nearest x2, EqualConv2d 3x3 pad 1 (+bias), Blur
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = F.conv2d(x, _eq(s[p + ".conv1.1.conv.weight_orig"]),
                     s[p + ".conv1.1.conv.bias"], padding=1)
        x = _blur(x)
    x = x + _eq(s[p + ".noise1.weight_orig"]) * noise
    x = _lrelu(x)
    x = _adain(x, s, w, p + ".adain1")
    x = F.conv2d(x, _eq(s[p + ".conv2.conv.weight_orig"]), s[p + ".conv2.conv.bias"],
                 padding=1)
    x = x + _eq(s[p + ".noise2.weight_orig"]) * noise  # same noise map as conv1
    x = _lrelu(x)
    x = _adain(x, s, w, p + ".adain2")
    return x


def _to_rgb(s, i, x):
    p = f"generator.to_rgb.{i}.conv"
    return F.conv2d(x, _eq(s[p + ".weight_orig"]), s[p + ".bias"])


def ref_generator(s, z, noise, step, alpha):
    w = _mapping(s, z)
    x, prev = None, None
    for i in range(step + 1):
        prev = x
        x = _g_block(s, i, x, w, noise[i], z.shape[0])
    out = _to_rgb(s, step, x)
    if step > 0 and 0 <= alpha < 1:
        skip = F.interpolate(_to_rgb(s, step - 1, prev), scale_factor=2, mode="nearest")
        out = (1 - alpha) * skip + alpha * out
    return out


def _from_rgb(s, index, x):
    p = f"from_rgb.{index}"
    if (p + ".0.conv.weight_orig") in s:  # from_rgb_activate=True: conv 1x1, lrelu
        return _lrelu(F.conv2d(x, _eq(s[p + ".0.conv.weight_orig"]), s[p + ".0.conv.bias"]))
    return F.conv2d(x, _eq(s[p + ".conv.weight_orig"]), s[p + ".conv.bias"])


def _d_block(s, index, x):
    p = f"progression.{index}"
    w1 = s[p + ".conv1.0.conv.weight_orig"]
    x = _lrelu(F.conv2d(x, _eq(w1), s[p + ".conv1.0.conv.bias"], padding=1))
    if index == 8:  # final block: conv 4x4, padding 0, lrelu -> [N, C, 1, 1]
        return _lrelu(F.conv2d(x, _eq(s[p + ".conv2.0.conv.weight_orig"]),
                               s[p + ".conv2.0.conv.bias"], padding=0))
    x = _blur(x)
    if (p + ".conv2.1.weight") in s:  # fused: Blur, FusedDownsample, lrelu
        wt = s[p + ".conv2.1.weight"]  # (out, in, 3, 3)
        k = _fused_kernel(wt * math.sqrt(2.0 / (wt.shape[1] * 9)))
        x = F.conv2d(x, k, s[p + ".conv2.1.bias"], stride=2, padding=1)
    else:  # Blur, EqualConv2d 3x3 pad 1 (+bias), AvgPool2d(2), lrelu
        x = F.conv2d(x, _eq(s[p + ".conv2.1.conv.weight_orig"]),
                     s[p + ".conv2.1.conv.bias"], padding=1)
        x = F.avg_pool2d(x, 2)
    return _lrelu(x)


def ref_discriminator(s, img, step, alpha):
    n_layer = 9
    x = None
    for i in range(step, -1, -1):
        index = n_layer - i - 1
        if i == step:
            x = _from_rgb(s, index, img)
        if i == 0:
            std = torch.sqrt(x.var(0, unbiased=False) + 1e-8).mean()
            x = torch.cat([x, std.expand(x.shape[0], 1, 4, 4)], 1)
        x = _d_block(s, index, x)
        if i > 0 and i == step and 0 <= alpha < 1:
            skip = _from_rgb(s, index + 1, F.avg_pool2d(img, 2))
            x = (1 - alpha) * skip + alpha * x
    x = x.reshape(x.shape[0], -1)
    return F.linear(x, _eq(s["linear.linear.weight_orig"]), s["linear.linear.bias"])


def check_fused_equivalences(M):
    """FusedDownsample == EqualConv2d-style 3x3 conv (pad 1, same scaled weight and
    bias) followed by avg_pool2d(2).  FusedUpsample == 0.25 * conv3x3(nearest x2,
    kernel transposed to (out,in) and flipped) + bias: the /4 also scales the
    upsampling kernel (NVlabs does not divide there)."""
    g = torch.Generator().manual_seed(5)
    x = torch.randn(2, 3, 6, 6, generator=g, dtype=torch.float64)
    with torch.no_grad():
        down = M.FusedDownsample(3, 5, 3, padding=1).double()
        down.bias.normal_(generator=g)
        w = down.weight * down.multiplier
        want = F.avg_pool2d(F.conv2d(x, w, down.bias, padding=1), 2)
        check_close("FusedDownsample == conv3x3 + avgpool2", down(x), want, 1e-12)
        up = M.FusedUpsample(3, 5, 3, padding=1).double()
        up.bias.normal_(generator=g)
        # (in,out,k,k) -> (out,in,k,k), spatially flipped (transpose-conv vs conv)
        w = torch.flip((up.weight * up.multiplier).transpose(0, 1), [2, 3])
        conv = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), w, padding=1)
        want = 0.25 * conv + up.bias.view(1, -1, 1, 1)
        check_close("FusedUpsample == 0.25*conv3x3(up2) + b", up(x), want, 1e-12)


def check_close(name, got, want, tol=2e-5):
    err = (got - want).abs().max().item() / max(want.abs().max().item(), 1e-12)
    print(f"  check {name}: max rel err {err:.2e}")
    assert err < tol, f"{name}: functional reference differs from upstream ({err})"


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------

def save_npy(path, arr):
    arr = np.ascontiguousarray(arr.detach().cpu().numpy().astype(np.float32))
    np.save(path, arr)


def zero_noise(n, step):
    return [torch.zeros(n, 1, 4 * 2 ** i, 4 * 2 ** i) for i in range(step + 1)]


def build(M, res, verbose):
    step = int(math.log2(res)) - 2
    n = 2 if res >= 256 else 4
    seed = 1000 + res
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed + 1)

    generator = make_generator(M)
    discriminator = make_discriminator(M, from_rgb_activate=True)
    perturb(generator, gen)
    perturb(discriminator, gen)

    # optimizers exactly as train.py builds them
    g_optimizer = torch.optim.Adam(generator.generator.parameters(), lr=LR,
                                   betas=(0.0, 0.99))
    g_optimizer.add_param_group({"params": generator.style.parameters(),
                                 "lr": LR * 0.01, "mult": 0.01})
    d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=LR, betas=(0.0, 0.99))

    # one real Adam step each (WGAN-style losses; only the layers used at this
    # step get gradients, so only they get optimizer state, as in training)
    zt = torch.randn(n, CODE_DIM, generator=gen)
    d_optimizer.zero_grad()
    fake = generator(zt, step=step, alpha=1).detach()
    discriminator(fake, step=step, alpha=1).mean().backward()
    d_optimizer.step()
    g_optimizer.zero_grad()
    for p in discriminator.parameters():
        p.requires_grad_(False)
    (-discriminator(generator(zt, step=step, alpha=1), step=step, alpha=1).mean()).backward()
    g_optimizer.step()
    for p in discriminator.parameters():
        p.requires_grad_(True)

    # g_running: its own instance, loaded from generator, then perturbed (an "EMA")
    g_running = make_generator(M)
    g_running.load_state_dict(generator.state_dict())
    perturb(g_running, gen, scale=0.05)
    g_running.train(False)
    generator.zero_grad(set_to_none=True)
    discriminator.zero_grad(set_to_none=True)

    ckpt = {
        "generator": generator.state_dict(),
        "discriminator": discriminator.state_dict(),
        "g_optimizer": g_optimizer.state_dict(),
        "d_optimizer": d_optimizer.state_dict(),
        "g_running": g_running.state_dict(),
    }

    out = {}
    with torch.no_grad():
        z = torch.randn(n, CODE_DIM, generator=gen)
        out["z"] = z
        out["images"] = g_running(z, noise=zero_noise(n, step), step=step, alpha=1)
        out["d-scores"] = discriminator(out["images"], step=step, alpha=1)
        if res == 32:
            out["images-alpha"] = g_running(z, noise=zero_noise(n, step), step=step,
                                            alpha=0.5)
            out["d-scores-alpha"] = discriminator(out["images"], step=step, alpha=0.5)
            noise = [torch.randn(n, 1, 4 * 2 ** i, 4 * 2 ** i, generator=gen)
                     for i in range(step + 1)]
            for i, nz in enumerate(noise):
                out[f"noise-{4 * 2 ** i}"] = nz
            out["images-noise"] = g_running(z, noise=noise, step=step, alpha=1)

        # independent check of the documented semantics
        s = {k: v.double() for k, v in ckpt["g_running"].items()}
        zd = z.double()
        check_close(f"{res} G alpha=1", ref_generator(s, zd, zero_noise(n, step), step, 1.0),
                    out["images"].double())
        sd = {k: v.double() for k, v in ckpt["discriminator"].items()}
        check_close(f"{res} D alpha=1", ref_discriminator(sd, out["images"].double(), step, 1.0),
                    out["d-scores"].double())
        if res == 32:
            check_close("32 G alpha=0.5",
                        ref_generator(s, zd, zero_noise(n, step), step, 0.5),
                        out["images-alpha"].double())
            check_close("32 D alpha=0.5",
                        ref_discriminator(sd, out["images"].double(), step, 0.5),
                        out["d-scores-alpha"].double())
            check_close("32 G noise", ref_generator(s, zd, [x.double() for x in noise], step, 1.0),
                        out["images-noise"].double())
            # the fade-in really does something, noise weights really matter
            assert (out["images-alpha"] - out["images"]).abs().max() > 1e-3
            assert (out["images-noise"] - out["images"]).abs().max() > 1e-3
            assert (out["d-scores-alpha"] - out["d-scores"]).abs().max() > 1e-4
        # the non-activated from_rgb variant (Discriminator default) also matches
        d2 = make_discriminator(M, from_rgb_activate=False)
        perturb(d2, torch.Generator().manual_seed(7))
        s2 = {k: v.double() for k, v in d2.state_dict().items()}
        check_close(f"{res} D from_rgb_activate=False",
                    ref_discriminator(s2, out["images"].double(), step, 0.5),
                    d2(out["images"], step=step, alpha=0.5).double())
        # g_running differs from generator
        assert any((ckpt["generator"][k] - v).abs().max() > 0
                   for k, v in ckpt["g_running"].items() if v.is_floating_point())
    if verbose:
        for k, v in out.items():
            print(f"  {k}: {tuple(v.shape)} range [{v.min():.4f}, {v.max():.4f}]")
    return ckpt, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("upstream", help="upstream work tree (with model.py) or git dir")
    ap.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "import"))
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    M, commit = load_upstream(args.upstream)
    print(f"upstream model.py at commit {commit}")
    check_fused_equivalences(M)
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)  # deterministic reductions

    for res in RESOLUTIONS:
        print(f"R={res}")
        ckpt, out = build(M, res, args.verbose)
        base = os.path.join(args.out, f"rosinality-{res}")
        torch.save(ckpt, base + ".pt")
        if res == 8:
            torch.save(ckpt, base + "-legacy.pt", _use_new_zipfile_serialization=False)
        if res == 32:
            torch.save(ckpt["g_running"], base + "-g_running-statedict.pt")
            if args.verbose:
                for part in ("g_running", "discriminator"):
                    print(f"  {part} state_dict:")
                    for k, v in ckpt[part].items():
                        print(f"    {k} {list(v.shape)}")
        for k, v in out.items():
            save_npy(f"{base}-{k}.npy", v)


if __name__ == "__main__":
    main()
