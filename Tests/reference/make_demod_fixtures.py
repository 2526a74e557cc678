#!/usr/bin/env python3
"""Write the weight-demodulation fixtures: the synthesis network of networks.py with
cfg["demodulate"] (StyleGAN2's modulation and demodulation in place of AdaIN), in float64.

Usage (from the repository root):
    python3 Tests/reference/make_demod_fixtures.py [--out Tests/Fixtures/networks]

Writes <out>/demod.safetensors: every G.synthesis.* parameter of a 128 px network (the tiny
fixture config of make_network_fixtures.py, channels 16 down to 4, initialised as that script
does: weights randn, biases 0.1 randn, noise strengths 0.2 randn, const randn), and for each case
r{R}_a{alpha*100:03d} of CASES (4x4 alone, a non-fused up-conv in a fade-in, the fused up-conv at
128 px in a fade-in):
  <case>.in.ws, <case>.in.noise<L>, <case>.in.gimg   inputs (styles per layer, noise maps, the
                                                     image's incoming gradient)
  <case>.out.img                                     the image
  <case>.grad.<name>, <case>.grad.ws                 d sum(img * gimg) / d parameter, d ws
The parameters a case does not use have no gradient entry.
"""

import argparse
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_fixtures as mf            # noqa: E402  (safetensors writer)
import make_network_fixtures as mnf   # noqa: E402  (the fixture parameter init)
import networks as nw                 # noqa: E402

CFG = dict(nw.TINY, resolution=128, demodulate=True)
CASES = [(4, 1.0), (16, 0.3), (128, 0.5)]
N = 2
SEED = 1234


def self_check(G):
    """The "scale, conv, scale" form against StyleGAN2's own: per-sample weights w * s, each
    output's divided by its norm, as one grouped conv (its fused_modconv=True path)."""
    layer = G.synthesis.layer1
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(N, layer.c, 4, 4, generator=gen, dtype=torch.float64)
    s = 1 + 0.5 * torch.randn(N, layer.c, generator=gen, dtype=torch.float64)
    w = layer.conv.scaled_weight().detach()
    ours = layer.conv(x * s[:, :, None, None], "same")
    ours = ours * torch.rsqrt(s.square() @ w.square().sum(dim=[2, 3]).t() + 1e-8)[:, :, None, None]
    wm = w[None] * s[:, None, :, None, None]                                 # (N, Cout, Cin, 3, 3)
    wm = wm * torch.rsqrt(wm.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8)
    theirs = torch.nn.functional.conv2d(x.reshape(1, -1, 4, 4), wm.reshape(-1, layer.c, 3, 3), padding=1, groups=N)
    err = (ours.detach() - theirs.reshape(ours.shape)).abs().max().item()
    assert err < 1e-12, err
    print(f"self-check: scale-conv-scale equals StyleGAN2's grouped modulated conv (max diff {err:.1e})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "..", "Fixtures", "networks"))
    a = ap.parse_args()
    G32 = nw.Generator(CFG)
    mnf.fixture_init(G32, None, CFG)
    G = nw.Generator(CFG).double()
    G.load_state_dict(G32.state_dict())
    out = [("G." + k, p.detach().float()) for k, p in G32.named_parameters() if k.startswith("synthesis.")]
    for layer in range(nw.num_layers(CFG["resolution"])):
        c = nw.channels(CFG, nw.layer_resolution(layer))
        assert getattr(G.synthesis, f"layer{layer}").style.weight.shape == (c, CFG["w_dim"])
    self_check(G)
    gen = torch.Generator().manual_seed(SEED)
    named = [("G." + k, p) for k, p in G.named_parameters() if k.startswith("synthesis.")]
    for R, alpha in CASES:
        name = f"r{R}_a{int(round(alpha * 100)):03d}"
        nl = nw.num_layers(R)
        ws = torch.randn(N, nl, CFG["w_dim"], generator=gen)
        noise = [torch.randn(N, 1, nw.layer_resolution(L), nw.layer_resolution(L), generator=gen) for L in range(nl)]
        gimg = torch.randn(N, 3, R, R, generator=gen)
        ws64 = ws.double().requires_grad_(True)
        img = G.synthesis(ws64, [t.double() for t in noise], R, alpha)
        grads = torch.autograd.grad((img * gimg.double()).sum(), [p for _, p in named] + [ws64], allow_unused=True)
        out += [(f"{name}.in.ws", ws), (f"{name}.in.gimg", gimg)] + [(f"{name}.in.noise{L}", t) for L, t in enumerate(noise)]
        out.append((f"{name}.out.img", img.detach().float()))
        out += [(f"{name}.grad.{k}", g.float()) for (k, _), g in zip(named, grads[:-1]) if g is not None]
        out.append((f"{name}.grad.ws", grads[-1].float()))
        # The same in float32: how far float32 rounding alone moves the image.
        G32f = nw.Generator(CFG)
        G32f.load_state_dict(G32.state_dict())
        with torch.no_grad():
            img32 = G32f.synthesis(ws, noise, R, alpha)
        rel = ((img32.double() - img).abs().max() / img.abs().max()).item()
        print(f"{name}: image max {img.abs().max().item():.3g}, float32 vs float64 max rel diff {rel:.2e}")
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "demod.safetensors")
    mf.write_safetensors(path, out, {"config": str(CFG)})
    print(f"wrote {path} ({len(out)} tensors)")


if __name__ == "__main__":
    main()
