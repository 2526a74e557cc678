#!/usr/bin/env python3
"""Write whole-network reference fixtures (StyleGAN1 G, D_basic) for the Swift tests.

Usage (from the repository root):
    python3 Tests/reference/make_network_fixtures.py [--out Tests/Fixtures/networks] [-v]

Writes <out>/params_tiny.safetensors (one seeded parameter set, every G.* and D.*
tensor) and one <out>/r{R}_a{alpha*100:03d}.safetensors per case, in the same
safetensors format as make_fixtures.py (its writer is imported). See README.md,
section "Network fixtures", for the tensor names. References are computed in
float64 from float32 inputs/parameters and stored as float32; every case is rerun
in float32 and the max relative difference (max|f32 - f64| / max|f64| per tensor)
is printed. The script also self-checks the primitive ops against make_fixtures.py,
the fused resampling convs against the unfused ones, the fade-in limits, the
parameter names/shapes, and the parameter counts of NVlabs' networks.
"""

import argparse
import copy
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_fixtures as mf  # noqa: E402  (safetensors writer/reader, reference ops)
import networks as nw       # noqa: E402

PARAM_SEED = 20240
CASES = [(4, 1.0), (8, 1.0), (8, 0.5), (16, 0.3), (32, 1.0), (64, 0.7),
         (128, 1.0), (128, 0.5), (256, 0.6)]


def case_name(r, alpha):
    return f"r{r}_a{int(round(alpha * 100)):03d}"


def batch_for(r):
    return 4 if r <= 64 else 2


# ----------------------------------------------------------------------------
# parameters


def build(cfg):
    return nw.Generator(cfg), nw.Discriminator(cfg)


def fixture_init(G, D, cfg, seed=PARAM_SEED):
    """Seeded fixture values, drawn in contract-name order:
    weights randn / lrmul; biases 0.1 * randn / lrmul (run-time bias ~ 0.1 * randn);
    noise_strength 0.2 * randn; const randn."""
    gen = torch.Generator().manual_seed(seed)
    lr_map = cfg["mapping_lrmul"]
    with torch.no_grad():
        for name, p in nw.named_contract_params(G, D):
            lrmul = lr_map if name.startswith("G.mapping.") else 1.0
            r = torch.randn(p.shape, generator=gen)
            if name.endswith(".weight"):
                p.copy_(r / lrmul)
            elif name.endswith(".bias"):
                p.copy_(0.1 * r / lrmul)
            elif name.endswith("noise_strength"):
                p.copy_(0.2 * r)
            elif name.endswith("const"):
                p.copy_(r)
            else:
                raise AssertionError(name)


def expected_shapes(cfg):
    """The contract, written out independently of the modules."""
    c = lambda r: nw.channels(cfg, r)  # noqa: E731
    zd, wd, R = cfg["z_dim"], cfg["w_dim"], cfg["resolution"]
    s = {}
    for i in range(cfg["mapping_layers"]):
        s[f"G.mapping.fc{i}.weight"] = (wd, zd if i == 0 else wd)
        s[f"G.mapping.fc{i}.bias"] = (wd,)
    s["G.synthesis.const"] = (1, nw.nf(cfg, 1), 4, 4)
    for L in range(nw.num_layers(R)):
        r = 4 * 2 ** (L // 2)
        C = c(r)
        p = f"G.synthesis.layer{L}."
        s[p + "noise_strength"] = (C,)
        s[p + "bias"] = (C,)
        s[p + "style.weight"] = (2 * C, wd)
        s[p + "style.bias"] = (2 * C,)
        if L >= 1:
            cin = c(r // 2) if (L >= 2 and L % 2 == 0) else C
            s[p + "conv.weight"] = (C, cin, 3, 3)
    for r in nw.resolutions(cfg):
        s[f"G.synthesis.torgb{r}.weight"] = (3, c(r), 1, 1)
        s[f"G.synthesis.torgb{r}.bias"] = (3,)
    for r in nw.resolutions(cfg):
        s[f"D.fromrgb{r}.weight"] = (c(r), 3, 1, 1)
        s[f"D.fromrgb{r}.bias"] = (c(r),)
    for r in nw.resolutions(cfg)[1:]:
        s[f"D.block{r}.conv0.weight"] = (c(r), c(r), 3, 3)
        s[f"D.block{r}.conv0.bias"] = (c(r),)
        s[f"D.block{r}.conv1.weight"] = (c(r // 2), c(r), 3, 3)
        s[f"D.block{r}.conv1.bias"] = (c(r // 2),)
    n1, n0 = nw.nf(cfg, 1), nw.nf(cfg, 0)
    s["D.block4.conv.weight"] = (n1, n1 + 1, 3, 3)
    s["D.block4.conv.bias"] = (n1,)
    s["D.block4.fc0.weight"] = (n0, n1 * 16)
    s["D.block4.fc0.bias"] = (n0,)
    s["D.block4.fc1.weight"] = (1, n0)
    s["D.block4.fc1.bias"] = (1,)
    return s


# ----------------------------------------------------------------------------
# parameter counts, following NVlabs' networks_stylegan.py variable by variable


def nvlabs_param_counts(latent_size=512, dlatent_size=512, mapping_fmaps=512, mapping_layers=8,
                        label_size=0, resolution=256, fmap_base=8192, fmap_max=512,
                        num_channels=3, mbstd_group_size=4):
    """Trainable variables of G_mapping, G_synthesis and D_basic (defaults as in
    NVlabs' code; the 'lod', 'noise%d' and 'dlatent_avg' variables are not trainable)."""
    def nf(stage):
        return min(int(fmap_base / (2.0 ** stage)), fmap_max)
    rl2 = int(math.log2(resolution))

    # G_mapping: [LabelConcat], Dense0..7 (weight + bias each)
    mapping = label_size * latent_size if label_size else 0
    fin = latent_size * 2 if label_size else latent_size
    for i in range(mapping_layers):
        fout = dlatent_size if i == mapping_layers - 1 else mapping_fmaps
        mapping += fin * fout + fout
        fin = fout

    # G_synthesis
    def epilogue(c):  # Noise/weight, bias, StyleMod dense weight + bias
        return c + c + dlatent_size * 2 * c + 2 * c
    syn = nf(1) * 16 + epilogue(nf(1))                      # 4x4/Const
    syn += 9 * nf(1) * nf(1) + epilogue(nf(1))              # 4x4/Conv
    for res in range(3, rl2 + 1):
        syn += 9 * nf(res - 2) * nf(res - 1) + epilogue(nf(res - 1))   # Conv0_up
        syn += 9 * nf(res - 1) * nf(res - 1) + epilogue(nf(res - 1))   # Conv1
    for res in range(2, rl2 + 1):
        syn += nf(res - 1) * num_channels + num_channels    # ToRGB_lod*

    # D_basic
    d = 0
    for res in range(2, rl2 + 1):
        d += num_channels * nf(res - 1) + nf(res - 1)       # FromRGB_lod*
    for res in range(3, rl2 + 1):
        d += 9 * nf(res - 1) * nf(res - 1) + nf(res - 1)    # Conv0
        d += 9 * nf(res - 1) * nf(res - 2) + nf(res - 2)    # Conv1_down
    extra = 1 if mbstd_group_size > 1 else 0
    d += 9 * (nf(1) + extra) * nf(1) + nf(1)                # 4x4/Conv
    d += nf(1) * 16 * nf(0) + nf(0)                         # 4x4/Dense0
    d += nf(0) * max(label_size, 1) + max(label_size, 1)    # 4x4/Dense1
    return mapping, syn, d


def check_param_counts():
    want = nvlabs_param_counts()
    G, D = build(nw.PAPER256)
    got = (nw.count_params(G.mapping), nw.count_params(G.synthesis), nw.count_params(D))
    assert got == want, (got, want)
    s = expected_shapes(nw.PAPER256)
    assert {k: tuple(p.shape) for k, p in nw.named_contract_params(G, D)} == s
    print(f"param counts (paper256): G_mapping {want[0]:,}  G_synthesis {want[1]:,}  "
          f"D {want[2]:,}  (match NVlabs formula)")
    return want


# ----------------------------------------------------------------------------
# self-checks of the reference


def self_check_ops():
    d = torch.float64
    torch.manual_seed(7)
    x = torch.randn(4, 5, 8, 6, dtype=d)
    assert torch.allclose(nw.instance_norm(x), mf.instance_norm(x), atol=1e-12)
    assert torch.allclose(nw.pixel_norm(x), mf.pixel_norm(x), atol=1e-12)
    z = torch.randn(3, 7, dtype=d)
    assert torch.allclose(nw.pixel_norm(z), mf.pixel_norm(z), atol=1e-12)
    for n in (1, 2, 4, 8):
        xs = torch.randn(n, 3, 4, 4, dtype=d)
        a = nw.minibatch_stddev(xs, 4)
        assert torch.allclose(a, mf.minibatch_stddev(xs, 4), atol=1e-12)
        assert torch.allclose(a, mf.minibatch_stddev_loops(xs, 4), atol=1e-12)
    assert torch.allclose(nw.blur(x), mf.upfirdn2d(x, mf.blur_filter_121(d), 1, 1, [1, 1, 1, 1]),
                          atol=1e-12)
    assert torch.equal(nw.upsample_nearest2x(x),
                       x.repeat_interleave(2, 2).repeat_interleave(2, 3))
    assert torch.allclose(nw.downsample_box2x(x), F.avg_pool2d(x, 2), atol=1e-12)
    # shift-summed kernel against its definition
    w = torch.randn(3, 2, 3, 3, dtype=d)
    P = F.pad(w, [1, 1, 1, 1])
    w4 = torch.zeros(3, 2, 4, 4, dtype=d)
    for i in range(4):
        for j in range(4):
            w4[..., i, j] = P[..., i, j] + P[..., i + 1, j] + P[..., i, j + 1] + P[..., i + 1, j + 1]
    assert torch.allclose(nw.shift_sum_4x4(w), w4, atol=1e-12)
    # Fused vs unfused resampling convs. Down: identical. Up: NVlabs' conv2d_transpose
    # with the shift-summed kernel equals nearest-2x + conv with the 3x3 kernel ROTATED
    # BY 180 degrees (and differs from the unrotated one), so the fused path at >= 128
    # is not interchangeable with the unfused path for the same stored weights.
    conv = nw.EqualizedConv2d(5, 3, 3, bias=True).double()
    flipped = nw.EqualizedConv2d(5, 3, 3, bias=True).double()
    with torch.no_grad():
        flipped.weight.copy_(conv.weight.flip(2, 3))
        flipped.bias.copy_(conv.bias)
    for h, wd in [(8, 8), (6, 10)]:
        xi = torch.randn(2, 5, h, wd, dtype=d)
        assert torch.allclose(conv(xi, "down", True), conv(xi, "down", False), atol=1e-11)
        assert torch.allclose(conv(xi, "up", True), flipped(xi, "up", False), atol=1e-11)
        assert not torch.allclose(conv(xi, "up", True), conv(xi, "up", False), atol=1e-3)


def self_check_fades(G, D, cfg):
    """alpha = 0 at R is the R/2 network (nearest-upsampled / fed the box-downsampled image)."""
    G, D = G.double(), D.double()
    torch.manual_seed(11)
    with torch.no_grad():
        for R in (8, 16, 128):
            n = 2
            nl = nw.num_layers(R)
            ws = torch.randn(n, nl, cfg["w_dim"], dtype=torch.float64)
            noise = [torch.randn(n, 1, nw.layer_resolution(L), nw.layer_resolution(L),
                                 dtype=torch.float64) for L in range(nl)]
            a0 = G.synthesis(ws, noise, R, 0.0)
            half = G.synthesis(ws[:, :nl - 2], noise[:nl - 2], R // 2, 1.0)
            assert torch.allclose(a0, nw.upsample_nearest2x(half), atol=1e-10)
            img = torch.randn(n, 3, R, R, dtype=torch.float64)
            assert torch.allclose(D(img, R, 0.0), D(nw.downsample_box2x(img), R // 2, 1.0),
                                  atol=1e-10)
            # the Generator wrapper = mapping + broadcast + synthesis
            z = torch.randn(n, cfg["z_dim"], dtype=torch.float64)
            w = G.mapping(z)
            assert torch.allclose(G(z, R, 0.5, noise),
                                  G.synthesis(w[:, None].expand(-1, nl, -1), noise, R, 0.5))


# ----------------------------------------------------------------------------
# one case


def case_inputs(cfg, R, alpha, seed):
    n = batch_for(R)
    nl = nw.num_layers(R)
    gen = torch.Generator().manual_seed(seed)
    rn = lambda *s: torch.randn(*s, generator=gen)  # noqa: E731
    ins = {"z": rn(n, cfg["z_dim"]), "gw": rn(n, cfg["w_dim"]),
           "ws": rn(n, nl, cfg["w_dim"])}
    ins["noise"] = [rn(n, 1, nw.layer_resolution(L), nw.layer_resolution(L)) for L in range(nl)]
    ins["gimg"] = rn(n, 3, R, R)
    ins["real"] = rn(n, 3, R, R)
    ins["gscore"] = rn(n, 1)
    return ins


def grads_named(loss, named, create_graph=False):
    gs = torch.autograd.grad(loss, [p for _, p in named], allow_unused=True,
                             create_graph=create_graph)
    return [(k, g) for (k, _), g in zip(named, gs)]


def compute_case(G32, D32, cfg, R, alpha, ins, dtype):
    """Returns (ordered list of (name, tensor) outputs, dict of used-param checks)."""
    G = nw.Generator(cfg)
    D = nw.Discriminator(cfg)
    G.load_state_dict(G32.state_dict())
    D.load_state_dict(D32.state_dict())
    G, D = G.to(dtype), D.to(dtype)
    gp = dict(("G." + k, p) for k, p in G.named_parameters())
    dp = dict(("D." + k, p) for k, p in D.named_parameters())
    c = lambda t: t.to(dtype)  # noqa: E731
    res = []

    # mapping
    z = c(ins["z"])
    w = G.mapping(z)
    res.append(("out.w", w))
    named = [(k, p) for k, p in gp.items() if k.startswith("G.mapping.")]
    for k, g in grads_named((w * c(ins["gw"])).sum(), named):
        assert g is not None, k
        res.append(("grad_mapping." + k, g))

    # synthesis
    ws = c(ins["ws"]).requires_grad_(True)
    noise = [c(t) for t in ins["noise"]]
    img = G.synthesis(ws, noise, R, alpha)
    res.append(("out.img", img))
    used = ["G." + k for k in nw.g_synthesis_params_used(cfg, R, alpha)]
    syn_named = [(k, p) for k, p in gp.items() if k.startswith("G.synthesis.")]
    got = grads_named((img * c(ins["gimg"])).sum(), syn_named + [("ws", ws)])
    assert sorted(k for k, g in got if g is not None) == sorted(used + ["ws"]), R
    gd = dict(got)
    for k in used:
        res.append(("grad_g." + k, gd[k]))
    res.append(("grad_g.ws", gd["ws"]))

    # discriminator
    real = c(ins["real"]).requires_grad_(True)
    score = D(real, R, alpha)
    res.append(("out.score", score))
    dused = ["D." + k for k in nw.d_params_used(cfg, R, alpha)]
    got = grads_named((score * c(ins["gscore"])).sum(), list(dp.items()) + [("real", real)])
    assert sorted(k for k, g in got if g is not None) == sorted(dused + ["real"]), R
    gd = dict(got)
    for k in dused:
        res.append(("grad_d." + k, gd[k]))
    res.append(("grad_d.real", gd["real"]))

    # R1
    score = D(real, R, alpha)
    (g,) = torch.autograd.grad(score.sum(), real, create_graph=True)
    penalty = (g ** 2).sum()
    res.append(("out.r1_penalty", penalty.reshape(1)))
    got = dict(grads_named(penalty, [(k, dp[k]) for k in dused]))
    for k in dused:
        gk = got[k]
        if gk is None:   # e.g. the last bias: d score / d real does not depend on it
            gk = torch.zeros_like(dp[k])
        res.append(("r1grad." + k, gk))
    return [(k, v.detach()) for k, v in res]


def rel_err(a, b):
    a, b = a.double(), b.double()
    den = b.abs().max().item()
    num = (a - b).abs().max().item()
    return num / den if den > 0 else num


GROUPS = [("mapping", ("out.w", "grad_mapping.")),
          ("img", ("out.img",)),
          ("grad_g", ("grad_g.",)),
          ("score", ("out.score",)),
          ("grad_d", ("grad_d.",)),
          ("r1", ("out.r1_penalty", "r1grad."))]


def group_of(name):
    for g, prefixes in GROUPS:
        if any(name == p or (p.endswith(".") and name.startswith(p)) for p in prefixes):
            return g
    raise AssertionError(name)


# ----------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "..", "Fixtures", "networks"))
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--cases", default="all",
                    help="comma-separated case names to write (default: all of CASES)")
    args = ap.parse_args()
    wanted = None if args.cases == "all" else set(args.cases.split(","))
    if wanted is not None:
        unknown = wanted - {case_name(r, a) for r, a in CASES}
        assert not unknown, f"unknown cases {sorted(unknown)}"
    out = os.path.normpath(args.out)
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(max(1, min(8, os.cpu_count() or 1)))

    cfg = dict(nw.TINY)
    self_check_ops()
    counts = check_param_counts()

    G, D = build(cfg)
    fixture_init(G, D, cfg)
    named = nw.named_contract_params(G, D)
    assert {k: tuple(p.shape) for k, p in named} == expected_shapes(cfg)
    self_check_fades(copy.deepcopy(G), copy.deepcopy(D), cfg)

    tensors = [(k, p.detach()) for k, p in named]
    meta = {"config": json.dumps(cfg, sort_keys=True)}
    path = os.path.join(out, "params_tiny.safetensors")
    mf.write_safetensors(path, tensors, meta)
    mf.verify_file(path, tensors, meta)
    print(f"params_tiny: {len(tensors)} tensors, {os.path.getsize(path)} bytes")

    for idx, (R, alpha) in enumerate(CASES):
        name = case_name(R, alpha)
        if wanted is not None and name not in wanted:
            continue
        ins = case_inputs(cfg, R, alpha, seed=1000 + idx)
        ref = compute_case(G, D, cfg, R, alpha, ins, torch.float64)
        chk = compute_case(G, D, cfg, R, alpha, ins, torch.float32)
        assert [k for k, _ in ref] == [k for k, _ in chk]
        # worst[g]: max over the group's tensors of max|f32 - f64| / max|f64| (per tensor);
        # r1_grp: the same for r1grad.* but normalised by the max over all r1grad.* tensors
        # (the r1 gradients of biases are tiny: they only come through minibatch stddev).
        worst = {g: 0.0 for g, _ in GROUPS}
        worst_name = {}
        r1max = max(v.abs().max().item() for k, v in ref if k.startswith("r1grad."))
        r1_grp = 0.0
        for (k, a64), (_, a32) in zip(ref, chk):
            e = rel_err(a32, a64.to(torch.float32))
            g = group_of(k)
            if e >= worst[g]:
                worst[g], worst_name[g] = e, k
            if k.startswith("r1grad."):
                r1_grp = max(r1_grp, (a32.double() - a64.float().double()).abs().max().item() / r1max)
        worst["r1_grp"] = r1_grp
        pen = rel_err(dict(chk)["out.r1_penalty"], dict(ref)["out.r1_penalty"].float())
        worst["penalty"] = pen
        # the tolerances suggested in README.md must hold for torch's own float32
        tol_main = max(worst[g] for g in ("mapping", "img", "grad_g", "score", "grad_d"))
        assert tol_main < 1e-4 and r1_grp < 5e-4 and pen < 1e-3, (name, worst)
        refd = dict(ref)
        n = batch_for(R)
        t = [("in.z", ins["z"]), ("out.w", refd["out.w"]), ("gw", ins["gw"])]
        t += [(k, v) for k, v in ref if k.startswith("grad_mapping.")]
        t += [("in.ws", ins["ws"])]
        t += [(f"in.noise{L}", v) for L, v in enumerate(ins["noise"])]
        t += [("out.img", refd["out.img"]), ("gimg", ins["gimg"])]
        t += [(k, v) for k, v in ref if k.startswith("grad_g.")]
        t += [("in.real", ins["real"]), ("out.score", refd["out.score"]), ("gscore", ins["gscore"])]
        t += [(k, v) for k, v in ref if k.startswith("grad_d.")]
        t += [("out.r1_penalty", refd["out.r1_penalty"])]
        t += [(k, v) for k, v in ref if k.startswith("r1grad.")]
        assert len(t) == len(ref) + 3 + 3 + len(ins["noise"])
        meta = {"resolution": str(R), "alpha": repr(float(alpha)), "batch": str(n)}
        path = os.path.join(out, name + ".safetensors")
        mf.write_safetensors(path, t, meta)
        mf.verify_file(path, t, meta)
        size = os.path.getsize(path)
        print(f"{name}: N={n} {len(t)} tensors {size / 1024:.0f} KiB  f32 rel err: "
              + "  ".join(f"{g} {worst[g]:.1e}" for g in worst), flush=True)
        if args.verbose:
            print(f"    out.r1_penalty {refd['out.r1_penalty'].item():.4g}, "
                  f"max |r1grad| {r1max:.3g}")
            for g, _ in GROUPS:
                print(f"    worst {g}: {worst_name[g]}")
    total = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    print(f"total {total / 2**20:.2f} MiB in {out}")
    print("param counts:", counts)


if __name__ == "__main__":
    main()
