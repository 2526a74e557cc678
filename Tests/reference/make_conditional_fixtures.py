#!/usr/bin/env python3
"""Write the class-conditional fixtures: StyleGAN2-ADA's conditional mapping and the projection /
ACGAN discriminator heads, on the networks of networks.py, in float64.

Usage (from the repository root):
    python3 Tests/reference/make_conditional_fixtures.py [--out Tests/Fixtures/networks]

Writes <out>/conditional.safetensors: every parameter (G.mapping.*, D.* of an 8 px D with both
heads: D.block4.projection.* and D.block4.classifier.*), the inputs (z, labels as one-hot, images)
and the outputs:
  w                       mapping(z, c): normalise_2nd_moment(z) and of embed(c), concatenated,
                          then the 8 dense layers (StyleGAN2-ADA's MappingNetwork with c_dim > 0)
  score_projection        fc1(h) + <h, normalise(projection(c))> / sqrt(dim h)   (Miyato & Koyama)
  score_acgan, logits     fc1(h) and classifier(h)                                (Odena et al.)
  cross_entropy           mean cross-entropy of the logits against c
  grad.<name>             d/d param of L = sum(w * gw) + sum(score_projection * gs) + cross_entropy
  grad.images             d L / d images
  r1, r1grad.<name>       R1 = sum over the batch of |d sum(score_projection) / d images|^2, and its
                          (second-order) gradient with respect to D's parameters
"""

import argparse
import math
import os
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_fixtures as mf  # noqa: E402  (safetensors writer)
import networks as nw       # noqa: E402

CFG = dict(z_dim=16, w_dim=16, mapping_layers=8, mapping_lrmul=0.01, fmap_base=64, fmap_max=16, fmap_min=1, resolution=8)
CLASSES = 3
N = 4


class ConditionalMapping(nn.Module):
    def __init__(self, cfg, classes):
        super().__init__()
        self.embed = nw.EqualizedLinear(classes, cfg["w_dim"], gain=1.0)
        self.n = cfg["mapping_layers"]
        for i in range(self.n):
            fin = cfg["z_dim"] + cfg["w_dim"] if i == 0 else cfg["w_dim"]
            setattr(self, f"fc{i}", nw.EqualizedLinear(fin, cfg["w_dim"], lrmul=cfg["mapping_lrmul"]))

    def forward(self, z, c):
        x = torch.cat([nw.pixel_norm(z), nw.pixel_norm(self.embed(c))], dim=1)
        for i in range(self.n):
            x = nw.lrelu(getattr(self, f"fc{i}")(x))
        return x


class ConditionalHeads(nn.Module):
    """D's features h (the last hidden dense layer) and both heads on them."""

    def __init__(self, d, classes):
        super().__init__()
        c0 = nw.nf(CFG, 0)
        self.d = d
        self.projection = nw.EqualizedLinear(classes, c0, gain=1.0)
        self.classifier = nw.EqualizedLinear(c0, classes, gain=1.0)

    def features(self, img):
        x = self.d.fromrgb(img, 8)
        x = self.d.block8(x)
        b = self.d.block4
        x = nw.minibatch_stddev(x, b.mbstd_group)
        x = nw.lrelu(b.conv(x))
        return nw.lrelu(b.fc0(x.flatten(1)))

    def forward(self, img, c):
        h = self.features(img)
        e = nw.pixel_norm(self.projection(c))
        base = self.d.block4.fc1(h)
        return base + (h * e).sum(dim=1, keepdim=True) / math.sqrt(h.shape[1]), base, self.classifier(h)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "..", "Fixtures", "networks"))
    a = ap.parse_args()
    torch.manual_seed(7)
    mapping = ConditionalMapping(CFG, CLASSES)
    heads = ConditionalHeads(nw.Discriminator(CFG), CLASSES)
    # Nonzero biases, so that their scaling is checked too.
    with torch.no_grad():
        for _, p in list(mapping.named_parameters()) + list(heads.named_parameters()):
            if p.dim() == 1:
                p.copy_(torch.randn_like(p) * 0.2)
    params = [("G.mapping." + k, p) for k, p in mapping.named_parameters()]
    for k, p in heads.named_parameters():
        params.append(("D." + k[2:] if k.startswith("d.") else "D.block4." + k, p))
    f32 = {name: p.detach().float().clone() for name, p in params}
    mapping.double()
    heads.double()

    z = torch.randn(N, CFG["z_dim"]).float()
    labels = [0, 2, 1, 2]
    c = torch.nn.functional.one_hot(torch.tensor(labels), CLASSES).float()
    images = torch.randn(N, 3, 8, 8).float()
    gw, gs = torch.randn(N, CFG["w_dim"]).float(), torch.randn(N, 1).float()

    x = images.double().requires_grad_(True)
    w = mapping(z.double(), c.double())
    score_p, score_a, logits = heads(x, c.double())
    ce = nn.functional.cross_entropy(logits, torch.tensor(labels))
    loss = (w * gw.double()).sum() + (score_p * gs.double()).sum() + ce
    plist = [p for _, p in params]
    grads = torch.autograd.grad(loss, plist + [x], allow_unused=True)

    x2 = images.double().requires_grad_(True)
    s2, _, _ = heads(x2, c.double())
    g = torch.autograd.grad(s2.sum(), x2, create_graph=True)[0]
    r1 = g.square().sum()
    d_params = [(n, p) for n, p in params if n.startswith("D.")]
    r1grads = torch.autograd.grad(r1, [p for _, p in d_params], allow_unused=True)

    out = dict(f32)
    out.update(z=z, labels=c, images=images, gw=gw, gs=gs)
    out.update(w=w.float(), score_projection=score_p.float(), score_acgan=score_a.float(), logits=logits.float(),
               cross_entropy=ce.reshape(1).float(), r1=r1.reshape(1).float())
    for (name, p), gr in zip(params, grads[:-1]):
        out["grad." + name] = (gr if gr is not None else torch.zeros_like(p)).float()
    out["grad.images"] = grads[-1].float()
    for (name, p), gr in zip(d_params, r1grads):
        out["r1grad." + name] = (gr if gr is not None else torch.zeros_like(p)).float()
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "conditional.safetensors")
    mf.write_safetensors(path, [(k, v.contiguous()) for k, v in out.items()], {"classes": str(CLASSES)})
    print(f"wrote {path}: {len(out)} tensors; w {tuple(w.shape)}, r1 {r1.item():.6g}, ce {ce.item():.6g}")


if __name__ == "__main__":
    main()
