#!/usr/bin/env python3
"""Write reference fixtures for the GAN losses (Training/Loss.swift) for the Swift tests.

Usage (from the repository root):
    python3 Tests/reference/make_loss_fixtures.py [--out Tests/Fixtures/losses] [-v]

Each case goes in <out>/<case>.safetensors (the writer comes from make_fixtures.py). The
discriminator is the PyTorch reference D of networks.py, loaded with the parameters in
Tests/Fixtures/networks/params_tiny.safetensors, run at resolution 8 with batch 4. The
losses are written term for term as Loss.swift computes them (see README.md, section
"Loss fixtures"); references are computed in float64 from float32 inputs and parameters,
stored as float32, and every case is rerun in float32 to print torch's own float32 error.

Tensors per case:
    in.real, in.fake (4,3,8,8), in.eps (4,1,1,1)   inputs (the same in every case)
    out.loss_d (1)        discriminatorLoss(d, reals, fakes, step 0, interpolation eps).loss
    out.penalty (1)       its penalty: R1 before gamma (logistic), the gp term before lambda
                          (wgangp), 0 otherwise
    dgrad.D.<param>       d loss_d / d param, for every D parameter the forward uses
    dgrad.real            d loss_d / d real (reals are a leaf, R1 differentiated through)
    dgrad.fake            d loss_d / d fake
    out.loss_g (1)        generatorLoss(d, fakes, reals)
    ggrad.fake            d loss_g / d fake
"""

import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_fixtures as mf  # noqa: E402  (safetensors writer/reader)
import networks as nw       # noqa: E402

R = 8
BATCH = 4
# Per-sample input scales: larger inputs give larger scores, so that the hinge terms sit on
# both sides of their kinks (some real scores above 1, some fake scores below -1).
SCALES = [1.0, 2.0, 3.0, 4.0]
HINGE_MARGIN = 0.05     # |score - 1| (reals) and |score + 1| (fakes) at least this
LRELU_MARGIN = 5e-5     # every leaky-relu input at least this far from 0
TOL = 1e-3              # the Swift tests' normwise tolerance (see README.md)
GRAD_FLOOR = 1e-3       # see scales()

LOSS_PARAMS = {
    "logistic": {"r1_gamma": 10.0, "r1_every": 1},
    "wgangp": {"lambda": 10.0, "drift": 0.001},
    "hinge": {},
    "lsgan": {},
    "minimax": {},
    "wgan": {"clip": 0.01},   # clipping happens in the trainer; it does not enter the loss
    "relativistic": {},
}
CASES = [(name, name, 1.0) for name in LOSS_PARAMS] + [("logistic_a050", "logistic", 0.5)]


# ----------------------------------------------------------------------------
# the losses, as Training/Loss.swift computes them


def discriminator_loss(name, p, D, real, fake, eps, alpha):
    """Returns (loss, penalty). `real` must be a leaf that requires grad."""
    d = lambda x: D(x, R, alpha)  # noqa: E731
    sp = F.softplus
    zero = torch.zeros((), dtype=real.dtype)
    if name == "logistic":
        rs, fs = d(real), d(fake)
        loss = (sp(fs) + sp(-rs)).mean()
        every = max(p["r1_every"], 1)
        # step 0: R1 is applied (0 % every == 0)
        (g,) = torch.autograd.grad(rs.sum(), real, create_graph=True)
        r1 = g.square().sum(dim=(1, 2, 3)).mean()
        return loss + r1 * (p["r1_gamma"] * 0.5 * every), r1
    if name == "wgangp":
        rs, fs = d(real), d(fake)
        # Loss.swift mixes the detached reals and fakes: no gradient flows to them through the
        # interpolates.
        mixed = (real.detach() + (fake.detach() - real.detach()) * eps).requires_grad_(True)
        (g,) = torch.autograd.grad(d(mixed).sum(), mixed, create_graph=True)
        norm = torch.sqrt(g.square().sum(dim=(1, 2, 3)) + 1e-12)
        gp = (norm - 1).square().mean()
        loss = fs.mean() - rs.mean() + gp * p["lambda"] + rs.square().mean() * p["drift"]
        return loss, gp
    rs, fs = d(real), d(fake)
    if name == "hinge":
        return (F.relu(1 - rs) + F.relu(fs + 1)).mean(), zero
    if name == "lsgan":
        return ((rs - 1).square() + fs.square()).mean() * 0.5, zero
    if name == "minimax":
        return (sp(fs) + sp(-rs)).mean(), zero
    if name == "wgan":
        return fs.mean() - rs.mean(), zero
    if name == "relativistic":
        rm, fm = rs.mean(), fs.mean()
        return (sp(-(rs - fm)) + sp(fs - rm)).mean(), zero
    raise ValueError(name)


def generator_loss(name, D, fake, real, alpha):
    d = lambda x: D(x, R, alpha)  # noqa: E731
    sp = F.softplus
    fs = d(fake)
    if name == "logistic":
        return sp(-fs).mean()
    if name in ("wgangp", "hinge", "wgan"):
        return -fs.mean()
    if name == "lsgan":
        return (fs - 1).square().mean() * 0.5
    if name == "minimax":
        return -(sp(fs).mean())
    if name == "relativistic":
        with torch.no_grad():
            rs = d(real)
        rm, fm = rs.mean(), fs.mean()
        return (sp(-(fs - rm)) + sp(rs - fm)).mean()
    raise ValueError(name)


# ----------------------------------------------------------------------------


def load_discriminator(path):
    t, meta = mf.read_safetensors(path)
    cfg = json.loads(meta["config"])
    D = nw.Discriminator(cfg)
    D.load_state_dict({k[2:]: v for k, v in t.items() if k.startswith("D.")})
    return D, cfg


class LreluMargin:
    """Records the smallest |input| of every leaky ReLU in D while active."""

    def __enter__(self):
        self.orig = nw.lrelu
        self.smallest = math.inf

        def lrelu(x):
            self.smallest = min(self.smallest, x.detach().abs().min().item())
            return self.orig(x)
        nw.lrelu = lrelu
        return self

    def __exit__(self, *exc):
        nw.lrelu = self.orig


def draw_inputs(seed):
    gen = torch.Generator().manual_seed(seed)
    sc = torch.tensor(SCALES).view(BATCH, 1, 1, 1)
    real = torch.randn(BATCH, 3, R, R, generator=gen) * sc
    fake = torch.randn(BATCH, 3, R, R, generator=gen) * sc
    eps = torch.rand(BATCH, 1, 1, 1, generator=gen)
    return {"real": real, "fake": fake, "eps": eps}


def inputs_ok(D64, ins):
    """Hinge straddles its kinks with a margin; no leaky ReLU input is near 0 in any forward
    the cases run (reals and fakes at alpha 1 and 0.5, the WGAN-GP interpolates)."""
    real, fake, eps = (ins[k].double() for k in ("real", "fake", "eps"))
    with torch.no_grad(), LreluMargin() as m:
        rs = D64(real, R, 1.0).flatten()
        fs = D64(fake, R, 1.0).flatten()
        D64(real, R, 0.5)
        D64(fake, R, 0.5)
        D64(real + (fake - real) * eps, R, 1.0)
    hinge = (bool((rs > 1 + HINGE_MARGIN).any()) and bool((rs < 1 - HINGE_MARGIN).any())
             and bool((fs < -1 - HINGE_MARGIN).any()) and bool((fs > -1 + HINGE_MARGIN).any())
             and bool(((rs - 1).abs() > HINGE_MARGIN).all())
             and bool(((fs + 1).abs() > HINGE_MARGIN).all())
             # unequal numbers of active terms, so d hinge / d (last bias) is not 0
             and int((rs < 1).sum()) != int((fs > -1).sum()))
    return hinge and m.smallest >= LRELU_MARGIN, rs, fs, m.smallest


def find_inputs(D64):
    for seed in range(1000):
        ins = draw_inputs(seed)
        ok, rs, fs, smallest = inputs_ok(D64, ins)
        if ok:
            return seed, ins, rs, fs, smallest
    raise SystemExit("no input seed meets the margins")


def compute_case(D32, cfg, loss, params, alpha, ins, dtype):
    D = nw.Discriminator(cfg)
    D.load_state_dict(D32.state_dict())
    D = D.to(dtype)
    named = [("D." + k, p) for k, p in D.named_parameters()]
    used = ["D." + k for k in nw.d_params_used(cfg, R, alpha)]
    real = ins["real"].to(dtype).requires_grad_(True)
    fake = ins["fake"].to(dtype).requires_grad_(True)
    eps = ins["eps"].to(dtype)

    loss_d, penalty = discriminator_loss(loss, params, D, real, fake, eps, alpha)
    wrt = [p for _, p in named] + [real, fake]
    grads = torch.autograd.grad(loss_d, wrt, allow_unused=True)
    gd = {k: g for (k, _), g in zip(named, grads)}
    got = sorted(k for k, g in gd.items() if g is not None)
    assert got == sorted(used), (loss, alpha, set(got) ^ set(used))
    res = [("out.loss_d", loss_d.reshape(1)), ("out.penalty", penalty.reshape(1))]
    res += [("dgrad." + k, gd[k]) for k in used]
    res += [("dgrad.real", grads[-2]), ("dgrad.fake", grads[-1])]

    fake_g = ins["fake"].to(dtype).requires_grad_(True)
    loss_g = generator_loss(loss, D, fake_g, ins["real"].to(dtype), alpha)
    (gg,) = torch.autograd.grad(loss_g, fake_g)
    res += [("out.loss_g", loss_g.reshape(1)), ("ggrad.fake", gg)]
    return [(k, v.detach()) for k, v in res]


def scales(ref):
    """The error scale of each tensor: its max |value|, but for the parameter gradients at
    least GRAD_FLOOR times the largest |dgrad.D.*| of the case (a few of them are 0 or nearly
    so by cancellation, e.g. d loss / d D.block4.fc1.bias is exactly 0 for wgan and
    relativistic, and only drift's 2e-3 * mean(D(real)) for wgangp)."""
    gmax = max(v.abs().max().item() for k, v in ref if k.startswith("dgrad.D."))
    out = {}
    for k, v in ref:
        s = v.abs().max().item()
        out[k] = max(s, GRAD_FLOOR * gmax) if k.startswith("dgrad.D.") else s
    return out


def rel_err(a, b, scale):
    num = (a.double() - b.double()).abs().max().item()
    return num / scale if scale > 0 else num


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "..", "Fixtures", "losses"))
    ap.add_argument("--params", default=os.path.join(HERE, "..", "Fixtures", "networks",
                                                      "params_tiny.safetensors"))
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    out = os.path.normpath(args.out)
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(max(1, min(8, os.cpu_count() or 1)))

    D32, cfg = load_discriminator(args.params)
    seed, ins, rs, fs, smallest = find_inputs(_double(D32, cfg))
    print(f"inputs: seed {seed}, scales {SCALES}; D(real) {[round(v, 3) for v in rs.tolist()]}, "
          f"D(fake) {[round(v, 3) for v in fs.tolist()]}, min |lrelu input| {smallest:.2e}")

    results = {}
    for case, loss, alpha in CASES:
        params = LOSS_PARAMS[loss]
        ref = compute_case(D32, cfg, loss, params, alpha, ins, torch.float64)
        chk = compute_case(D32, cfg, loss, params, alpha, ins, torch.float32)
        assert [k for k, _ in ref] == [k for k, _ in chk]
        worst, worst_name = 0.0, ""
        sc = scales(ref)
        for (k, a64), (_, a32) in zip(ref, chk):
            e = rel_err(a32, a64.to(torch.float32), sc[k])
            if e >= worst:
                worst, worst_name = e, k
        assert worst < TOL / 2, (case, worst_name, worst)
        refd = dict(ref)
        results[case] = refd
        t = [("in.real", ins["real"]), ("in.fake", ins["fake"]), ("in.eps", ins["eps"])] + ref
        meta = {
            "loss": loss,
            "params": json.dumps(params, sort_keys=True),
            "resolution": str(R),
            "alpha": repr(float(alpha)),
            "batch": str(BATCH),
            "step": "0",
            "input_seed": str(seed),
            "discriminator": "networks/params_tiny.safetensors",
        }
        path = os.path.join(out, case + ".safetensors")
        mf.write_safetensors(path, t, meta)
        mf.verify_file(path, t, meta)
        print(f"{case}: loss_d {refd['out.loss_d'].item():.6g}  penalty {refd['out.penalty'].item():.6g}  "
              f"loss_g {refd['out.loss_g'].item():.6g}  {len(t)} tensors "
              f"{os.path.getsize(path) / 1024:.0f} KiB  f32 rel err {worst:.1e} ({worst_name})")
        if args.verbose:
            for k, v in ref:
                print(f"    {k:34s} {list(v.shape)}  max|.| {v.abs().max().item():.3e}")

    # Self-checks that tie the cases together.
    lo, mm = results["logistic"], results["minimax"]
    r1_term = LOSS_PARAMS["logistic"]["r1_gamma"] * 0.5 * lo["out.penalty"].double()
    assert torch.allclose(lo["out.loss_d"].double() - r1_term, mm["out.loss_d"].double(), atol=1e-6)
    assert abs(lo["out.loss_g"].item() - mm["out.loss_g"].item()) > 0.1
    hi, wg = results["hinge"], results["wgan"]
    assert not torch.allclose(hi["dgrad.fake"], wg["dgrad.fake"], atol=1e-3), "hinge kinks unused"
    total = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    print(f"total {total / 1024:.0f} KiB in {out}")


def _double(D32, cfg):
    D = nw.Discriminator(cfg)
    D.load_state_dict(D32.state_dict())
    return D.double().requires_grad_(False)


if __name__ == "__main__":
    main()
