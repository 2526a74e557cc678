#!/usr/bin/env python3
"""NumPy reference for ProGAN's multi-scale sliced Wasserstein distance (MS-SWD).

Usage (from the repository root):
    python3 Tests/reference/swd_reference.py [--out Tests/Fixtures/metrics/swd.safetensors]

Follows ProGAN's metrics/sliced_wasserstein.py: Laplacian pyramid (5x5 gaussian, mirror
borders, scipy.ndimage.convolve as there) down to 16x16, 7x7x3 neighbourhoods at given
centres, per-set per-channel normalisation, sliced Wasserstein over given unit directions,
x 1e3. The random centres and directions are drawn here with NumPy and stored in the
fixture, so the Swift side (which draws its own with Philox) can be fed the same ones.

Tensors (all F32):
    in.a, in.b          (N, 3, R, R) images in [-1, 1]; b is a blurred, shifted, noisy a
    pos.a.<l>, pos.b.<l> (N*K, 2) neighbourhood centres (y, x) of pyramid level l
    dirs.<l>.<j>        (147, D) unit directions of repeat j at level l
    out                 (L,) distances x 1e3 per level, finest first
    out_self            (L,) a against itself with b's centres (sampling noise floor)
metadata: resolutions, tol.
"""

import argparse
import json
import os
import sys

import numpy as np
import scipy.ndimage
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import write_safetensors  # noqa: E402

NHOOD = 7
gaussian_filter = np.float32([
    [1, 4, 6, 4, 1],
    [4, 16, 24, 16, 4],
    [6, 24, 36, 24, 6],
    [4, 16, 24, 16, 4],
    [1, 4, 6, 4, 1]]) / 256.0


def pyr_down(x):
    return scipy.ndimage.convolve(x, gaussian_filter[None, None], mode="mirror")[:, :, ::2, ::2]


def pyr_up(x):
    s = x.shape
    res = np.zeros((s[0], s[1], s[2] * 2, s[3] * 2), x.dtype)
    res[:, :, ::2, ::2] = x
    return scipy.ndimage.convolve(res, gaussian_filter[None, None] * 4.0, mode="mirror")


def laplacian_pyramid(x, levels):
    pyr = [np.array(x, dtype=np.float32, copy=True)]  # ProGAN fed uint8, so this was a copy there too
    for _ in range(1, levels):
        pyr.append(pyr_down(pyr[-1]))
        pyr[-2] -= pyr_up(pyr[-1])
    return pyr


def descriptors(level, pos):
    """level (N, 3, S, S); pos (M, 2) integer (y, x) centres, M a multiple of N."""
    n = level.shape[0]
    per = pos.shape[0] // n
    h = NHOOD // 2
    nh, ch, y, x = np.ogrid[0:pos.shape[0], 0:3, -h:h + 1, -h:h + 1]
    img = nh // per
    y = y + pos[:, 0].astype(np.int64).reshape(-1, 1, 1, 1)
    x = x + pos[:, 1].astype(np.int64).reshape(-1, 1, 1, 1)
    return level[img, ch, y, x]


def finalize(desc):
    desc = desc - np.mean(desc, axis=(0, 2, 3), keepdims=True)
    desc = desc / np.std(desc, axis=(0, 2, 3), keepdims=True)
    return desc.reshape(desc.shape[0], -1)


def sliced_wasserstein(a, b, dirs_list):
    results = []
    for dirs in dirs_list:
        pa = np.sort(np.matmul(a, dirs), axis=0)
        pb = np.sort(np.matmul(b, dirs), axis=0)
        results.append(np.mean(np.abs(pa - pb)))
    return np.mean(results)


def resolutions(r):
    out = []
    while r >= 16:
        out.append(r)
        r //= 2
    return out


def msswd(a, b, pos_a, pos_b, dirs):
    res = resolutions(a.shape[2])
    pa = laplacian_pyramid(a, len(res))
    pb = laplacian_pyramid(b, len(res))
    out = []
    for l in range(len(res)):
        da = finalize(descriptors(pa[l], pos_a[l]).astype(np.float64))
        db = finalize(descriptors(pb[l], pos_b[l]).astype(np.float64))
        out.append(sliced_wasserstein(da, db, [d.astype(np.float64) for d in dirs[l]]) * 1e3)
    return np.array(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="Tests/Fixtures/metrics/swd.safetensors")
    args = ap.parse_args()
    rng = np.random.RandomState(2018)
    n, r, per, repeats, ndirs = 8, 32, 128, 4, 32
    a = np.clip(rng.randn(n, 3, r, r).astype(np.float32) * 0.5, -1, 1)
    a = scipy.ndimage.uniform_filter(a, size=(1, 1, 3, 3), mode="wrap").astype(np.float32) * 1.5
    b = scipy.ndimage.gaussian_filter(np.roll(a, 2, axis=3), sigma=(0, 0, 0.8, 0.8))
    b = (b + 0.05 * rng.randn(*b.shape)).astype(np.float32)
    res = resolutions(r)
    h = NHOOD // 2
    pos_a, pos_b, dirs = [], [], []
    for s in res:
        pos_a.append(rng.randint(h, s - h, size=(n * per, 2)).astype(np.float32))
        pos_b.append(rng.randint(h, s - h, size=(n * per, 2)).astype(np.float32))
        ds = []
        for _ in range(repeats):
            d = rng.randn(3 * NHOOD * NHOOD, ndirs)
            d /= np.sqrt(np.sum(np.square(d), axis=0, keepdims=True))
            ds.append(d.astype(np.float32))
        dirs.append(ds)
    out = msswd(a, b, pos_a, pos_b, dirs)
    out_self = msswd(a, a, pos_a, pos_b, dirs)
    print("resolutions", res, "swd x1e3", out, "self", out_self)

    tensors = [("in.a", a), ("in.b", b)]
    for l in range(len(res)):
        tensors += [(f"pos.a.{l}", pos_a[l]), (f"pos.b.{l}", pos_b[l])]
        tensors += [(f"dirs.{l}.{j}", dirs[l][j]) for j in range(repeats)]
    tensors += [("out", out), ("out_self", out_self)]
    tensors = [(k, torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32))) for k, v in tensors]
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    write_safetensors(args.out, tensors, {
        "op": "msswd",
        "params": json.dumps({"resolutions": res, "repeats": repeats, "neighbourhoods_per_image": per}),
        "tol": json.dumps({"rtol": 1e-3, "atol": 1e-4}),
    })
    print("wrote", args.out, os.path.getsize(args.out), "bytes")


if __name__ == "__main__":
    main()
