#!/usr/bin/env python3
"""PyTorch side of the side-by-side benchmark (bench/compare.sh).

The same arithmetic as `stylegan bench train|generate`, written the idiomatic PyTorch way on
the networks of networks.py (F.conv2d & co., autograd, torch.optim.Adam), float32 on the CPU:

  train     one training iteration as Training/TrainingStep.swift runs it with the logistic
            loss and R1 (gamma 10) on the reals every iteration:
              D step: fakes from G under no_grad (style mixing, random noise); D on reals and
                      fakes; softplus(fake) + softplus(-real), mean; R1 = gamma/2 * mean over
                      samples of |d sum(D(reals)) / d reals|^2 (autograd.grad, create_graph);
                      backward; Adam on D.
              G step: mapping + style mixing (p 0.9) + synthesis with random noise; D with its
                      parameters frozen (requires_grad False); softplus(-D(fake)).mean();
                      backward; Adam on G.
              then the w_avg update and the EMA of G's parameters.
  generate  z -> mapping -> synthesis (random noise) under torch.no_grad.

Timing: the median of --iters timed calls after one warm-up call; peak RSS from getrusage
(ru_maxrss / 1024, as the Swift side reports it).

  python3 Tests/reference/bench_torch.py train --config paper256 --resolution 32 --batch 8 --alpha 0.5 --json
  python3 Tests/reference/bench_torch.py generate --config paper256 --resolution 256 --batch 16 --json
"""

import argparse
import copy
import json
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import networks as nets  # noqa: E402

SMALL64 = dict(z_dim=256, w_dim=256, mapping_layers=8, mapping_lrmul=0.01,
               fmap_base=2048, fmap_max=256, fmap_min=1, resolution=64)
PAPER1024 = dict(nets.PAPER256, resolution=1024)  # NVIDIA's released FFHQ network
CONFIGS = {"paper256": nets.PAPER256, "paper1024": PAPER1024, "small64": SMALL64, "tiny": nets.TINY}

STYLE_MIXING_PROB = 0.9
W_AVG_BETA = 0.995
EMA_HALF_LIFE_KIMG = 10.0
R1_GAMMA = 10.0
LR = 0.001


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median_seconds(iters, body):
    body()  # warm-up
    times = []
    for _ in range(max(1, iters)):
        t0 = time.perf_counter()
        body()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def styles(G, cfg, batch, used):
    """ws (N, used, w_dim) with style mixing, and the first w (N, w_dim)."""
    w = G.mapping(torch.randn(batch, cfg["z_dim"]))
    ws = w[:, None, :].expand(-1, used, -1)
    u = torch.rand(2).tolist()
    if used < 2 or u[0] >= STYLE_MIXING_PROB:
        return ws, w
    cutoff = 1 + min(used - 2, int(u[1] * (used - 1)))
    ws2 = G.mapping(torch.randn(batch, cfg["z_dim"]))[:, None, :].expand(-1, used, -1)
    return torch.cat([ws[:, :cutoff], ws2[:, cutoff:]], dim=1), w


def train(cfg, resolution, alpha, batch, iters):
    torch.manual_seed(0)
    G, D = nets.Generator(cfg), nets.Discriminator(cfg)
    G_ema = copy.deepcopy(G).requires_grad_(False)
    w_avg = torch.zeros(cfg["w_dim"])
    opt_g = torch.optim.Adam(G.parameters(), lr=LR, betas=(0.0, 0.99), eps=1e-8)
    opt_d = torch.optim.Adam(D.parameters(), lr=LR, betas=(0.0, 0.99), eps=1e-8)
    reals_data = torch.randn(batch, 3, resolution, resolution)
    used = nets.num_layers(resolution)
    state = {"nimg": 0}

    def step():
        nonlocal w_avg
        # D step
        with torch.no_grad():
            ws, _ = styles(G, cfg, batch, used)
            fakes = G.synthesis(ws, None, resolution, alpha)
        reals = reals_data.clone().requires_grad_(True)
        real = D(reals, resolution, alpha)
        fake = D(fakes, resolution, alpha)
        loss_d = (F.softplus(fake) + F.softplus(-real)).mean()
        (grad,) = torch.autograd.grad(real.sum(), reals, create_graph=True)
        r1 = grad.square().sum(dim=(1, 2, 3)).mean()
        loss_d = loss_d + r1 * (R1_GAMMA * 0.5)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        _ = loss_d.item()

        # G step, D frozen
        D.requires_grad_(False)
        ws, w = styles(G, cfg, batch, used)
        fakes = G.synthesis(ws, None, resolution, alpha)
        loss_g = F.softplus(-D(fakes, resolution, alpha)).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        D.requires_grad_(True)
        _ = loss_g.item()

        # w_avg and EMA (stylegan2-ada ramp-up, as TrainingStep.updateEMA)
        with torch.no_grad():
            mean = w.mean(dim=0)
            w_avg = mean + (w_avg - mean) * W_AVG_BETA
            half_life = min(EMA_HALF_LIFE_KIMG * 1000, (state["nimg"] + batch) * 0.05)
            beta = 0.5 ** (batch / max(half_life, 1e-8))
            for e, p in zip(G_ema.parameters(), G.parameters()):
                e.lerp_(p, 1 - beta)
        state["nimg"] += batch

    s = median_seconds(iters, step)
    return dict(ms_per_iter=round(s * 1e3, 1), images_per_s=round(batch / s, 2))


def project(cfg, resolution, iters):
    """One step of the projector (Training/Projector.swift, NVIDIA's projector.py loop): w and the
    noise maps optimised by Adam against a pixel pyramid MSE plus the noise regulariser."""
    torch.manual_seed(0)
    G = nets.Generator(cfg).requires_grad_(False)
    target = torch.rand(1, 3, resolution, resolution) * 2 - 1
    used = nets.num_layers(resolution)
    w_opt = torch.zeros(1, 1, cfg["w_dim"], requires_grad=True)
    noise = [torch.randn(1, 1, 4 << (l // 2), 4 << (l // 2), requires_grad=True) for l in range(used)]
    opt = torch.optim.Adam([w_opt] + noise, lr=0.1, betas=(0.9, 0.999))

    def distance(a, b):
        loss = (a - b).square().mean()
        while a.shape[2] > 8:
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
            loss = loss + (a - b).square().mean()
        return loss

    def body():
        ws = (w_opt + torch.randn_like(w_opt) * 0.01).expand(1, used, cfg["w_dim"])
        img = G.synthesis(ws, noise, resolution)
        reg = 0.0
        for n in noise:
            while True:
                reg = reg + (n * torch.roll(n, 1, dims=3)).mean() ** 2 + (n * torch.roll(n, 1, dims=2)).mean() ** 2
                if n.shape[2] <= 8:
                    break
                n = F.avg_pool2d(n, 2)
        loss = distance(img, target) + reg * 1e5
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for n in noise:
                n -= n.mean()
                n *= n.square().mean().rsqrt()

    t = median_seconds(iters, body)
    return dict(ms_per_step=round(t * 1e3, 1), steps_per_s=round(1 / t, 2))


def generate(cfg, resolution, batch, iters):
    torch.manual_seed(0)
    G = nets.Generator(cfg).requires_grad_(False)
    z = torch.randn(batch, cfg["z_dim"])

    def body():
        with torch.no_grad():
            G(z, resolution)

    t = median_seconds(iters, body)
    return dict(ms_per_batch=round(t * 1e3, 1), ms_per_image=round(t * 1e3 / batch, 1),
                images_per_s=round(batch / t, 2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("target", choices=["train", "generate", "project"])
    ap.add_argument("--config", default="paper256", choices=sorted(CONFIGS))
    ap.add_argument("--resolution", type=int, default=None)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    cfg = CONFIGS[a.config]
    r = a.resolution or cfg["resolution"]
    if a.target == "train":
        row = dict(bench="train_torch", config=a.config, resolution=r, alpha=a.alpha, batch=a.batch)
        row.update(train(cfg, r, a.alpha, a.batch, a.iters))
    elif a.target == "project":
        row = dict(bench="project_torch", config=a.config, resolution=r)
        row.update(project(cfg, r, a.iters))
    else:
        row = dict(bench="generate_torch", config=a.config, resolution=r, batch=a.batch)
        row.update(generate(cfg, r, a.batch, a.iters))
    row["peak_rss_mb"] = round(peak_rss_mb())
    row["threads"] = a.threads
    if a.json:
        print(json.dumps(row))
    else:
        for k, v in row.items():
            print(f"{k:>14}: {v}")


if __name__ == "__main__":
    main()
