#!/usr/bin/env python3
"""Reference fixtures for ADA's augmentation pipeline (Training/Augment.swift).

Usage (from the repository root):
    python3 Tests/reference/make_augment_fixtures.py [--out Tests/Fixtures/augment]

For fixed per-sample draws (in the metadata, as JSON), each case stores the inverse geometric
matrices G_inv (N, 3, 3) and colour matrices C (N, 4, 4) built the way NVlabs'
stylegan2-ada-pytorch `training/augment.py` builds them, and the augmented images computed the
way it executes them (reflect pad, 2x upsampling with the sym6 filter, affine_grid + grid_sample,
sym6 2x downsampling, then the colour matrix), all in float64 with torch's own ops; plus
grad.x = d sum(out * gy) / d x through torch's autograd. Written independently of the Swift code
from the paper's description and the reference's semantics.
"""
import argparse, json, math, os, sys
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from make_fixtures import write_safetensors

SYM6 = [0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
        0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
        -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148]

def mat(*rows): return np.array(rows, dtype=np.float64)
def translate2d(tx, ty): return mat([1, 0, tx], [0, 1, ty], [0, 0, 1])
def scale2d(sx, sy): return mat([sx, 0, 0], [0, sy, 0], [0, 0, 1])
def rotate2d(t): return mat([math.cos(t), -math.sin(t), 0], [math.sin(t), math.cos(t), 0], [0, 0, 1])
def translate2d_inv(tx, ty): return translate2d(-tx, -ty)
def scale2d_inv(sx, sy): return scale2d(1 / sx, 1 / sy)
def rotate2d_inv(t): return rotate2d(-t)

def geometric(d, w, h):
    g = np.eye(3)
    g = g @ scale2d_inv(1 - 2 * d["xflip"], 1)
    g = g @ rotate2d_inv(-np.pi / 2 * d["rotate90"])
    g = g @ translate2d_inv(d["xint"][0], d["xint"][1])       # already rounded pixels
    g = g @ scale2d_inv(d["scale"], d["scale"])
    g = g @ rotate2d_inv(-d["preRotation"])
    g = g @ scale2d_inv(d["aniso"], 1 / d["aniso"])
    g = g @ rotate2d_inv(-d["postRotation"])
    g = g @ translate2d_inv(d["xfrac"][0] * w, d["xfrac"][1] * h)
    return g

def colour(d):
    c = np.eye(4)
    b = d["brightness"]; c = mat([1, 0, 0, b], [0, 1, 0, b], [0, 0, 1, b], [0, 0, 0, 1]) @ c
    k = d["contrast"]; c = np.diag([k, k, k, 1.0]) @ c
    v = np.array([1, 1, 1, 0]) / np.sqrt(3)
    c = (np.eye(4) - 2 * np.outer(v, v) * d["lumaflip"]) @ c
    t = d["hue"]; s, co = math.sin(t), math.cos(t); cc = 1 - co; vx, vy, vz = v[:3]
    c = mat([vx*vx*cc+co, vx*vy*cc-vz*s, vx*vz*cc+vy*s, 0], [vy*vx*cc+vz*s, vy*vy*cc+co, vy*vz*cc-vx*s, 0],
            [vz*vx*cc-vy*s, vz*vy*cc+vx*s, vz*vz*cc+co, 0], [0, 0, 0, 1]) @ c
    c = (np.outer(v, v) + (np.eye(4) - np.outer(v, v)) * d["saturation"]) @ c
    return c

def upfirdn2d(x, f, up, down, pad, flip_filter, gain):
    """NVlabs' upfirdn2d reference semantics with a 1-D filter applied separably."""
    n, c, h, w = x.shape
    px0, px1, py0, py1 = pad
    x = x.reshape(n, c, h, 1, w, 1)
    x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1]).reshape(n, c, h * up, w * up)
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0):x.shape[2] - max(-py1, 0), max(-px0, 0):x.shape[3] - max(-px1, 0)]
    f = f * (gain ** 0.5)
    if not flip_filter: f = f.flip([0])
    x = x.reshape(n * c, 1, x.shape[2], x.shape[3])
    x = F.conv2d(x, f.reshape(1, 1, 1, -1))
    x = F.conv2d(x, f.reshape(1, 1, -1, 1))
    x = x.reshape(n, c, x.shape[2], x.shape[3])
    return x[:, :, ::down, ::down]

def augment(images, draws):
    n, ch, h, w = images.shape
    G = np.stack([geometric(d, w, h) for d in draws])
    C = np.stack([colour(d) for d in draws])
    f = torch.tensor(SYM6, dtype=torch.float64); f = f / f.sum()
    hz_pad = len(SYM6) // 4
    cx, cy = (w - 1) / 2, (h - 1) / 2
    cp = np.array([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]]).T
    corners = G @ cp                                                       # [n, xyz, idx]
    m = np.transpose(corners[:, :2, :], (1, 0, 2)).reshape(2, -1)
    margin = np.concatenate([-m, m]).max(axis=1)                           # x0, y0, x1, y1
    margin = margin + np.array([hz_pad * 2 - cx, hz_pad * 2 - cy] * 2)
    margin = np.minimum(np.maximum(margin, 0), [w - 1, h - 1] * 2)
    mx0, my0, mx1, my1 = [int(math.ceil(v)) for v in margin]
    x = F.pad(images, [mx0, mx1, my0, my1], mode="reflect")
    Gt = translate2d((mx0 - mx1) / 2, (my0 - my1) / 2) @ G
    fw = len(SYM6)
    x = upfirdn2d(x, f, 2, 1, [(fw + 1) // 2, (fw - 2) // 2] * 2, False, 4)
    Gt = scale2d(2, 2) @ Gt @ scale2d_inv(2, 2)
    Gt = translate2d(-0.5, -0.5) @ Gt @ translate2d_inv(-0.5, -0.5)
    shape = [n, ch, (h + hz_pad * 2) * 2, (w + hz_pad * 2) * 2]
    Gt = scale2d(2 / x.shape[3], 2 / x.shape[2]) @ Gt @ scale2d_inv(2 / shape[3], 2 / shape[2])
    grid = F.affine_grid(torch.tensor(Gt[:, :2, :]), shape, align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    p0 = -hz_pad * 2 + (fw - 2 + 1) // 2; p1 = -hz_pad * 2 + (fw - 2) // 2
    x = upfirdn2d(x, f, 1, 2, [p0, p1, p0, p1], True, 1)
    Ct = torch.tensor(C)
    x = (Ct[:, :3, :3] @ x.reshape(n, ch, h * w) + Ct[:, :3, 3:]).reshape(n, ch, h, w)
    return x, G, C

IDENTITY = dict(xflip=0, rotate90=0, xint=[0, 0], scale=1, preRotation=0, aniso=1, postRotation=0, xfrac=[0, 0],
                brightness=0, contrast=1, lumaflip=0, hue=0, saturation=1)
CASES = {
    "augment_all_16": (16, [
        dict(xflip=1, rotate90=1, xint=[2, -1], scale=1.1, preRotation=0.3, aniso=0.9, postRotation=-0.2, xfrac=[0.03, -0.05],
             brightness=0.1, contrast=1.2, lumaflip=1, hue=0.5, saturation=0.7),
        dict(xflip=0, rotate90=3, xint=[0, 1], scale=0.85, preRotation=-1.0, aniso=1.15, postRotation=0.4, xfrac=[-0.02, 0.01],
             brightness=-0.15, contrast=0.8, lumaflip=0, hue=-2.0, saturation=1.5)]),
    "augment_identity_8": (8, [IDENTITY, IDENTITY]),
    "augment_rotate_only_12": (12, [dict(IDENTITY, preRotation=0.7), dict(IDENTITY, rotate90=2, xint=[-1, 1])]),
}

def main():
    ap = argparse.ArgumentParser(); ap.add_argument("--out", default="Tests/Fixtures/augment"); a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    for name, (size, draws) in CASES.items():
        x = (torch.rand(len(draws), 3, size, size, generator=g, dtype=torch.float64) * 2 - 1).float().double()
        x.requires_grad_(True)
        out, G, C = augment(x, draws)
        gy = torch.randn(out.shape, generator=g, dtype=torch.float64).float().double()
        (grad,) = torch.autograd.grad((out * gy).sum(), x)
        write_safetensors(os.path.join(a.out, name + ".safetensors"),
                          [("in.x", x), ("out", out), ("gy", gy), ("grad.x", grad),
                           ("G_inv", torch.tensor(G)), ("C", torch.tensor(C))],
                          {"draws": json.dumps(draws)})
        print(name, tuple(out.shape), "max |out - in| %.3f" % (out - x).abs().max().item())

if __name__ == "__main__":
    main()
