#!/usr/bin/env python3
"""Write small PyTorch reference fixtures for the Swift StyleGAN ops tests.

Usage (from the repository root):
    python3 Tests/reference/make_fixtures.py [--out Tests/Fixtures/ops]

Each case becomes one safetensors file <out>/<case>.safetensors, written by the
tiny writer below (the `safetensors` package is not needed):

    8-byte little-endian header length N
    N bytes of JSON header, padded with spaces to a multiple of 8:
        {"<name>": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]},
         ...,
         "__metadata__": {"op": "...", "params": "<JSON string>", "tol": "<JSON string>"}}
    raw little-endian float32 data, tensors back to back in the order written

Tensor names:
    in.<name>      every input
    gy             random upstream gradient, shape of out
    out            the op's output
    grad.<name>    d sum(out * gy) / d in.<name>   (not for constant inputs like in.f)
    grad2.<name>   for second-order cases: with g = d sum(out*gy) / d in.<x>
                   (create_graph) and R = sum(g**2), grad2.<name> = dR / d in.<name>
                   (zeros where R does not depend on in.<name>)

References are computed in float64 from float32 inputs and stored as float32.
Every case is also recomputed in float32 by torch and checked against its own
tolerance, so the stored tolerances are known to be attainable in float32.
"""

import argparse
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

SLOPE = 0.2
EPS = 1e-8

# ----------------------------------------------------------------------------
# safetensors writer


def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, torch tensor); metadata: dict of str -> str."""
    header = {}
    blobs = []
    offset = 0
    for name, t in tensors:
        t = t.detach().to(torch.float32).contiguous().cpu()
        data = t.numpy().astype("<f4").tobytes()
        header[name] = {
            "dtype": "F32",
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    assert len(header) == len(tensors), "duplicate tensor names"
    for k, v in metadata.items():
        assert isinstance(v, str), (k, v)
    header["__metadata__"] = metadata
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * ((-len(hbytes)) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(hbytes)))
        fh.write(hbytes)
        for b in blobs:
            fh.write(b)


def read_safetensors(path):
    """Reader used only to self-check what was written."""
    with open(path, "rb") as fh:
        raw = fh.read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__")
    base = 8 + n
    out = {}
    end_max = 0
    for name, info in header.items():
        assert info["dtype"] == "F32"
        b, e = info["data_offsets"]
        end_max = max(end_max, e)
        buf = bytearray(raw[base + b:base + e])
        t = torch.frombuffer(buf, dtype=torch.float32) if e > b else torch.zeros(0)
        out[name] = t.reshape(info["shape"]).clone()
    assert base + end_max == len(raw)
    return out, meta


# ----------------------------------------------------------------------------
# reference ops (dtype-agnostic; used in float64 for the fixture, float32 for the check)


def upfirdn2d(x, f, up=1, down=1, pad=(0, 0, 0, 0)):
    """x (N,C,H,W), f (FH,FW) used as given (no flip, gain included).

    Zero-insert upsample (sample i -> i*up, length H*up), pad by
    pad=(px0, px1, py0, py1) (negative crops), depthwise correlate with f,
    keep every down-th sample.
    """
    n, c, h, w = x.shape
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    px0, px1, py0, py1 = pad
    x = F.pad(x, [px0, px1, py0, py1])
    weight = f.to(x.dtype).reshape(1, 1, *f.shape).repeat(c, 1, 1, 1)
    return F.conv2d(x, weight, stride=down, groups=c)


def upfirdn2d_loops(x, f, up, down, pad):
    """Slow explicit-loop version, to check upfirdn2d once."""
    n, c, h, w = x.shape
    px0, px1, py0, py1 = pad
    fh, fw = f.shape
    hu, wu = h * up, w * up
    oh = (hu + py0 + py1 - fh) // down + 1
    ow = (wu + px0 + px1 - fw) // down + 1

    def p(b, ch, yy, xx):  # padded, upsampled signal
        uy, ux = yy - py0, xx - px0
        if uy < 0 or ux < 0 or uy >= hu or ux >= wu:
            return 0.0
        if uy % up or ux % up:
            return 0.0
        return float(x[b, ch, uy // up, ux // up])

    y = torch.zeros(n, c, oh, ow, dtype=torch.float64)
    for b in range(n):
        for ch in range(c):
            for oy in range(oh):
                for ox in range(ow):
                    s = 0.0
                    for i in range(fh):
                        for j in range(fw):
                            s += float(f[i, j]) * p(b, ch, oy * down + i, ox * down + j)
                    y[b, ch, oy, ox] = s
    return y


def minibatch_stddev(x, group=4):
    n, c, h, w = x.shape
    g = min(group, n)
    assert n % g == 0
    m = n // g
    y = x.reshape(g, m, c, h, w)
    y = y - y.mean(0, keepdim=True)
    y = (y ** 2).mean(0)
    y = torch.sqrt(y + EPS)
    y = y.mean([1, 2, 3])  # (M,)
    y = y.repeat(g)  # sample n gets y[n % M]
    y = y.reshape(n, 1, 1, 1).expand(n, 1, h, w)
    return torch.cat([x, y], 1)


def minibatch_stddev_loops(x, group=4):
    n, c, h, w = x.shape
    g = min(group, n)
    m = n // g
    x = x.double()
    stat = []
    for j in range(m):
        members = [x[k * m + j] for k in range(g)]
        mean = sum(members) / g
        var = sum((t - mean) ** 2 for t in members) / g
        stat.append(float(torch.sqrt(var + EPS).mean()))
    extra = torch.stack([torch.full((1, h, w), stat[i % m], dtype=torch.float64)
                         for i in range(n)])
    return torch.cat([x, extra], 1)


def instance_norm(x):
    mean = x.mean([2, 3], keepdim=True)
    var = ((x - mean) ** 2).mean([2, 3], keepdim=True)
    return (x - mean) / torch.sqrt(var + EPS)


def pixel_norm(x):
    return x * torch.rsqrt((x ** 2).mean(1, keepdim=True) + EPS)


def blur_filter_121(dtype=torch.float32):
    k = torch.tensor([1.0, 2.0, 1.0], dtype=dtype)
    return torch.outer(k, k) / 16


def filter_1331(dtype=torch.float32):
    k = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=dtype)
    return torch.outer(k, k) / 64


# ----------------------------------------------------------------------------
# case machinery

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def compute(fn, inputs, gy, const, second, xname, dtype):
    """Returns dict name -> tensor (out, grad.*, grad2.*) computed in dtype."""
    ins = {}
    for k, v in inputs.items():
        t = v.detach().to(dtype)
        if k not in const:
            t.requires_grad_(True)
        ins[k] = t
    gyd = gy.to(dtype)
    out = fn(ins)
    res = {"out": out.detach()}
    names = [k for k in ins if k not in const]
    loss = (out * gyd).sum()
    grads = torch.autograd.grad(loss, [ins[k] for k in names], create_graph=second,
                                allow_unused=True)
    for k, gr in zip(names, grads):
        res["grad." + k] = (torch.zeros_like(ins[k]) if gr is None else gr).detach()
    if second:
        g = grads[names.index(xname)]
        R = (g ** 2).sum() if g is not None else None
        if R is None or not R.requires_grad:
            g2 = [None] * len(names)
        else:
            g2 = torch.autograd.grad(R, [ins[k] for k in names], allow_unused=True)
        for k, gr in zip(names, g2):
            res["grad2." + k] = (torch.zeros_like(ins[k]) if gr is None else gr).detach()
    return res


SUMMARY = []


def emit(outdir, name, op, inputs, fn, params=None, tol=(1e-4, 1e-5), second=False,
         const=(), xname="x", gy_seed_offset=0):
    """inputs: ordered dict name -> float32 tensor (already seeded)."""
    params = params or {}
    const = set(const)
    # gy comes from the same generator stream, right after the inputs
    with torch.no_grad():
        out_shape = fn({k: v.double() for k, v in inputs.items()}).shape
    gy = torch.randn(out_shape)
    ref = compute(fn, inputs, gy, const, second, xname, torch.float64)
    chk = compute(fn, inputs, gy, const, second, xname, torch.float32)
    rtol, atol = tol
    worst = 0.0
    for k in ref:
        a = chk[k].double()
        b = ref[k].to(torch.float32).double()
        err = (a - b).abs() / (atol + rtol * b.abs())
        ratio = float(err.max()) if err.numel() else 0.0
        worst = max(worst, ratio)
        if ratio > 1.0:
            raise SystemExit(f"{name}: float32 torch misses tol on {k} (ratio {ratio:.3g})")
    tensors = [("in." + k, v) for k, v in inputs.items()]
    tensors.append(("gy", gy))
    tensors.append(("out", ref["out"]))
    tensors += [(k, ref[k]) for k in ref if k.startswith("grad.")]
    tensors += [(k, ref[k]) for k in ref if k.startswith("grad2.")]
    meta = {
        "op": op,
        "params": json.dumps(params),
        "tol": json.dumps({"rtol": rtol, "atol": atol}),
    }
    path = os.path.join(outdir, name + ".safetensors")
    write_safetensors(path, tensors, meta)
    verify_file(path, tensors, meta)
    SUMMARY.append((name, op, params, tol, [(n, list(t.shape)) for n, t in tensors], worst))


def emit_plain(outdir, name, op, tensors, params, tol):
    meta = {"op": op, "params": json.dumps(params),
            "tol": json.dumps({"rtol": tol[0], "atol": tol[1]})}
    path = os.path.join(outdir, name + ".safetensors")
    write_safetensors(path, tensors, meta)
    verify_file(path, tensors, meta)
    SUMMARY.append((name, op, params, tol, [(n, list(t.shape)) for n, t in tensors], 0.0))


def verify_file(path, tensors, meta):
    got, gmeta = read_safetensors(path)
    assert gmeta == meta
    assert list(got.keys()) == [n for n, _ in tensors]
    for n, t in tensors:
        assert torch.equal(got[n], t.detach().to(torch.float32)), n


def randn(*shape):
    return torch.randn(*shape)


def positive(*shape):
    return torch.randn(*shape).abs() + 0.5


def away_from_zero(x, margin=1e-2):
    """Push values with |x| < margin out to +-(margin + |x|) (kinks: relu, lrelu)."""
    s = torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))
    return torch.where(x.abs() < margin, s * (margin + x.abs()), x)


CONV_TOL = (1e-3, 1e-4)
SIMPLE_TOL = (1e-4, 1e-5)

# ----------------------------------------------------------------------------
# cases


@case
def convs(outdir):
    specs = [
        ("conv2d_3x3_s1_p1", (2, 3, 7, 5), (4, 3, 3, 3), 1, 1, True),
        ("conv2d_3x3_s2_p1_b1", (1, 2, 8, 8), (3, 2, 3, 3), 2, 1, True),
        ("conv2d_1x1", (2, 3, 6, 6), (5, 3, 1, 1), 1, 0, False),
        ("conv2d_4x4_s2_p1", (1, 3, 8, 8), (2, 3, 4, 4), 2, 1, True),
    ]
    for i, (name, xs, ws, s, p, second) in enumerate(specs):
        torch.manual_seed(100 + i)
        inputs = {"x": randn(*xs), "w": randn(*ws)}
        emit(outdir, name, "conv2d", inputs,
             lambda d, s=s, p=p: F.conv2d(d["x"], d["w"], stride=s, padding=p),
             params={"stride": s, "pad": p}, tol=CONV_TOL, second=second)
    torch.manual_seed(110)
    inputs = {"x": randn(2, 3, 4, 5), "w": randn(3, 2, 4, 4)}
    emit(outdir, "conv_transpose2d_4x4_s2_p1", "conv_transpose2d", inputs,
         lambda d: F.conv_transpose2d(d["x"], d["w"], stride=2, padding=1),
         params={"stride": 2, "pad": 1, "output_padding": 0}, tol=CONV_TOL, second=True)


@case
def dense(outdir):
    torch.manual_seed(200)
    emit(outdir, "linear", "linear", {"x": randn(3, 5), "w": randn(4, 5)},
         lambda d: d["x"] @ d["w"].t(), tol=CONV_TOL, second=True)
    torch.manual_seed(201)
    emit(outdir, "linear_b1", "linear", {"x": randn(1, 7), "w": randn(6, 7)},
         lambda d: d["x"] @ d["w"].t(), tol=CONV_TOL)


@case
def bias_lrelu(outdir):
    torch.manual_seed(300)
    x, b = randn(2, 3, 5, 4), randn(3)
    x = away_from_zero(x + b.view(1, -1, 1, 1)) - b.view(1, -1, 1, 1)
    emit(outdir, "bias_lrelu_4d", "bias_lrelu", {"x": x, "b": b},
         lambda d: F.leaky_relu(d["x"] + d["b"].view(1, -1, 1, 1), SLOPE),
         params={"slope": SLOPE}, tol=SIMPLE_TOL, second=True)
    torch.manual_seed(301)
    x, b = randn(3, 6), randn(6)
    x = away_from_zero(x + b) - b
    emit(outdir, "bias_lrelu_2d", "bias_lrelu", {"x": x, "b": b},
         lambda d: F.leaky_relu(d["x"] + d["b"].view(1, -1), SLOPE),
         params={"slope": SLOPE}, tol=SIMPLE_TOL, second=True)


@case
def fir(outdir):
    k1331 = filter_1331()
    specs = [
        ("blur121", (2, 3, 6, 5), blur_filter_121(), 1, 1, [1, 1, 1, 1]),
        ("blur1331_up2", (1, 2, 4, 3), k1331 * 4, 2, 1, [2, 1, 2, 1]),
        ("blur1331_down2", (1, 2, 8, 6), k1331, 1, 2, [1, 1, 1, 1]),
        ("nearest_up2", (2, 2, 3, 4), torch.ones(2, 2), 2, 1, [1, 0, 1, 0]),
        ("box_down2", (2, 2, 6, 4), torch.ones(2, 2) / 4, 1, 2, [0, 0, 0, 0]),
    ]
    for i, (name, xs, f, up, down, pad) in enumerate(specs):
        torch.manual_seed(400 + i)
        x = randn(*xs)
        fast = upfirdn2d(x.double(), f.double(), up, down, pad)
        slow = upfirdn2d_loops(x.double(), f.double(), up, down, pad)
        assert fast.shape == slow.shape and torch.allclose(fast, slow, atol=1e-12), name
        emit(outdir, name, "upfirdn2d", {"x": x, "f": f.clone()},
             lambda d, up=up, down=down, pad=pad: upfirdn2d(d["x"], d["f"], up, down, pad),
             params={"up": up, "down": down, "pad": pad}, tol=SIMPLE_TOL, const={"f"})
    # extra self-check of the reference: asymmetric filter, negative pad, up and down
    torch.manual_seed(499)
    x, f = randn(1, 2, 5, 6), randn(3, 2)
    for up, down, pad in [(2, 1, [-1, 2, 1, -2]), (1, 2, [2, -1, 0, 1]), (3, 2, [1, 1, 2, 0])]:
        fast = upfirdn2d(x.double(), f.double(), up, down, pad)
        slow = upfirdn2d_loops(x.double(), f.double(), up, down, pad)
        assert fast.shape == slow.shape and torch.allclose(fast, slow, atol=1e-12)
    nn_out = upfirdn2d(x.double(), torch.ones(2, 2, dtype=torch.float64), 2, 1, [1, 0, 1, 0])
    assert torch.equal(nn_out, x.double().repeat_interleave(2, 2).repeat_interleave(2, 3))


@case
def norms(outdir):
    norm_params = {"eps": EPS}
    torch.manual_seed(500)
    emit(outdir, "instance_norm", "instance_norm", {"x": randn(2, 3, 5, 4)},
         lambda d: instance_norm(d["x"]), params=norm_params, tol=CONV_TOL)
    torch.manual_seed(501)
    emit(outdir, "adain", "adain",
         {"x": randn(2, 3, 4, 4), "ys": randn(2, 3), "yb": randn(2, 3)},
         lambda d: instance_norm(d["x"]) * (1 + d["ys"][:, :, None, None])
         + d["yb"][:, :, None, None],
         params=norm_params, tol=CONV_TOL)
    torch.manual_seed(502)
    emit(outdir, "pixel_norm_2d", "pixel_norm", {"x": randn(3, 8)},
         lambda d: pixel_norm(d["x"]), params={"eps": EPS, "dim": 1}, tol=CONV_TOL)
    torch.manual_seed(503)
    emit(outdir, "pixel_norm_4d", "pixel_norm", {"x": randn(2, 4, 3, 3)},
         lambda d: pixel_norm(d["x"]), params={"eps": EPS, "dim": 1}, tol=CONV_TOL)


@case
def mbstd(outdir):
    specs = [("mbstd_g4", (4, 3, 4, 4), 4), ("mbstd_g4_n8", (8, 2, 4, 4), 4),
             ("mbstd_g2", (2, 3, 2, 3), 2)]
    for i, (name, xs, g) in enumerate(specs):
        torch.manual_seed(600 + i)
        x = randn(*xs)
        assert torch.allclose(minibatch_stddev(x.double(), g),
                              minibatch_stddev_loops(x, g), atol=1e-12), name
        emit(outdir, name, "mbstd", {"x": x},
             lambda d, g=g: minibatch_stddev(d["x"], g),
             params={"group": g, "eps": EPS}, tol=CONV_TOL, second=True)


@case
def elementwise(outdir):
    torch.manual_seed(700)
    emit(outdir, "add_bcast", "add", {"a": randn(2, 3, 4, 5), "b": randn(1, 3, 1, 1)},
         lambda d: d["a"] + d["b"], tol=SIMPLE_TOL)
    torch.manual_seed(701)
    emit(outdir, "sub_bcast", "sub", {"a": randn(2, 3, 4, 5), "b": randn(1, 1, 4, 5)},
         lambda d: d["a"] - d["b"], tol=SIMPLE_TOL)
    torch.manual_seed(702)
    emit(outdir, "mul_bcast", "mul", {"a": randn(2, 3, 4, 5), "b": randn(2, 3, 1, 1)},
         lambda d: d["a"] * d["b"], tol=SIMPLE_TOL, second=True, xname="a")
    torch.manual_seed(703)
    emit(outdir, "div_bcast", "div", {"a": randn(2, 3, 4, 5), "b": positive(1, 3, 1, 1)},
         lambda d: d["a"] / d["b"], tol=SIMPLE_TOL, second=True, xname="a")

    unary = [
        ("exp", torch.exp, randn, True),
        ("log", torch.log, positive, True),
        ("sqrt", torch.sqrt, positive, True),
        ("rsqrt", torch.rsqrt, positive, True),
        ("softplus", F.softplus, randn, True),
        ("sigmoid", torch.sigmoid, randn, True),
        ("relu", F.relu, lambda *s: away_from_zero(randn(*s)), False),
        ("square", lambda t: t * t, randn, True),
        ("neg", lambda t: -t, randn, True),
    ]
    for i, (name, f, gen, second) in enumerate(unary):
        torch.manual_seed(710 + i)
        emit(outdir, name, name, {"x": gen(3, 4, 5)}, lambda d, f=f: f(d["x"]),
             tol=SIMPLE_TOL, second=second)

    torch.manual_seed(730)
    emit(outdir, "sum_axes_0_2_3", "sum", {"x": randn(2, 3, 4, 5)},
         lambda d: d["x"].sum([0, 2, 3], keepdim=True),
         params={"axes": [0, 2, 3], "keepdim": True}, tol=SIMPLE_TOL)
    torch.manual_seed(731)
    emit(outdir, "sum_all", "sum", {"x": randn(3, 4)},
         lambda d: d["x"].sum([0, 1], keepdim=True),
         params={"axes": [0, 1], "keepdim": True}, tol=SIMPLE_TOL)
    torch.manual_seed(732)
    emit(outdir, "mean_axis1", "mean", {"x": randn(2, 6, 3)},
         lambda d: d["x"].mean(1, keepdim=True),
         params={"axes": [1], "keepdim": True}, tol=SIMPLE_TOL)


@case
def d_chain(outdir):
    s1 = math.sqrt(2) / math.sqrt(3 * 9)
    s2 = math.sqrt(2) / math.sqrt(4 * 9)
    s3 = 1 / math.sqrt(96)

    def fn(d, pre=None):
        h = F.conv2d(d["x"], d["w1"] * s1, padding=1) + d["b1"].view(1, -1, 1, 1)
        if pre is not None:
            pre.append(h)
        h = F.leaky_relu(h, SLOPE)
        h = upfirdn2d(h, blur_filter_121(h.dtype), 1, 1, [1, 1, 1, 1])
        h = F.conv2d(h, d["w2"] * s2, padding=1)
        h = upfirdn2d(h, torch.ones(2, 2, dtype=h.dtype) / 4, 1, 2, [0, 0, 0, 0])
        h = h + d["b2"].view(1, -1, 1, 1)
        if pre is not None:
            pre.append(h)
        h = F.leaky_relu(h, SLOPE)
        h = minibatch_stddev(h, 4)
        return h.reshape(h.shape[0], -1) @ (d["w3"] * s3).t()

    # pick the first seed whose pre-activations stay clear of the leaky-ReLU kink,
    # so float32 implementations cannot land on the other side of it
    for seed in range(900, 1000):
        torch.manual_seed(seed)
        inputs = {"x": randn(4, 3, 8, 8), "w1": randn(4, 3, 3, 3), "b1": randn(4),
                  "w2": randn(5, 4, 3, 3), "b2": randn(5), "w3": randn(1, 96)}
        pre = []
        with torch.no_grad():
            fn({k: v.double() for k, v in inputs.items()}, pre)
        margin = min(float(p.abs().min()) for p in pre)
        if margin > 2e-3:
            break
    else:
        raise SystemExit("d_chain: no seed with a safe margin")
    params = {"s1": s1, "s2": s2, "s3": s3, "slope": SLOPE, "pad1": 1, "pad2": 1,
              "blur": [1, 2, 1], "blur_pad": [1, 1, 1, 1], "down": "box2x2",
              "group": 4, "eps": EPS, "seed": seed}
    emit(outdir, "d_chain", "d_chain", inputs, fn, params=params, tol=(2e-3, 2e-4),
         second=True)


@case
def adam(outdir):
    specs = [("adam", 1000, 0.001, (0.0, 0.99)), ("adam_b09", 1001, 0.01, (0.9, 0.999))]
    for name, seed, lr, betas in specs:
        torch.manual_seed(seed)
        p0 = randn(37)
        gs = [randn(37) for _ in range(3)]
        p = torch.nn.Parameter(p0.double().clone())
        opt = torch.optim.Adam([p], lr=lr, betas=betas, eps=1e-8)
        outs = []
        for g in gs:
            p.grad = g.double().clone()
            opt.step()
            outs.append(p.detach().clone())
        st = opt.state[p]
        tensors = [("in.p", p0)] + [(f"in.g{i + 1}", g) for i, g in enumerate(gs)]
        tensors += [(f"out.p{i + 1}", o) for i, o in enumerate(outs)]
        tensors += [("out.m3", st["exp_avg"]), ("out.v3", st["exp_avg_sq"])]
        params = {"lr": lr, "betas": list(betas), "eps": 1e-8, "weight_decay": 0.0,
                  "steps": 3}
        emit_plain(outdir, name, "adam", tensors, params, (1e-4, 1e-6))


# ----------------------------------------------------------------------------


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.normpath(os.path.join(here, "..", "Fixtures", "ops"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=default_out)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    for fn in CASES:
        fn(args.out)
    total = 0
    for name, op, params, tol, shapes, worst in SUMMARY:
        size = os.path.getsize(os.path.join(args.out, name + ".safetensors"))
        total += size
        if args.verbose:
            desc = " ".join(f"{n}{tuple(s)}" for n, s in shapes)
            print(f"{name:28s} {op:16s} {size:6d}B f32/tol={worst:.3f}  {desc}")
    print(f"wrote {len(SUMMARY)} fixtures, {total} bytes, to {args.out}")
    assert total < 2 * 1024 * 1024


if __name__ == "__main__":
    sys.exit(main())
