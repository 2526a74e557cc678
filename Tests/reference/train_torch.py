#!/usr/bin/env python3
"""The PyTorch reference's training loop, for the equal-kimg parity runs of docs/training-faces64.md.

The same training as `stylegan train` with the logistic loss, written independently on the
networks of networks.py: ProGAN's growth (4x4 for one phase, then per resolution a fade-in and a
stabilisation of one phase each, the reals faded by their 2x box-downsampled-then-nearest-
upsampled version), the non-saturating logistic loss with R1 on the (faded) reals, gamma/2 x
E|grad|^2 every `--r1-every` D steps scaled by that interval, style mixing with probability 0.9
(one draw per batch, crossover uniform among the layers in use), fresh noise maps per sample,
torch.optim.Adam (lr 0.001, betas (0, 0.99), eps 1e-8) on G and D with their moments reset when a
resolution starts fading in, w_avg with beta 0.995 from the G step's w, and the EMA generator
(10 kimg half-life with stylegan2-ada's ramp-up: at most 5% of the images shown so far).
Data: a folder prepared by `stylegan prepare` (rNNN.u8, count x 3 x r x r, [-1, 1] as x/127.5-1),
a fresh random permutation per epoch, no mirroring.

It differs from ours only where two implementations must: random numbers (torch's generators, not
our Philox streams), and float summation order. What it writes is read by our tools, so both runs
are measured by the same code:
    OUT/G_ema-NNNNNN.safetensors   the EMA generator in our generator-weights format
                                   (`stylegan metrics fid --network ...`, `stylegan generate ...`)
    OUT/stats.jsonl                one line per kimg: kimg, resolution, alpha, loss_d, loss_g, penalty, sec_per_kimg
    OUT/state.pt                   everything to resume (`--resume`), written atomically at every
                                   snapshot and on SIGINT / SIGTERM

    python3 Tests/reference/train_torch.py --data data/faces32 --outdir runs/ref32-s0 \
        --resolution 32 --phase-kimg 20 --kimg 100 --snap-kimg 10 --seed 0 --threads 2 [--resume]

The network is `small64` (w 256, fmap_base 2048, fmap_max 256, batch 16) cut at --resolution.
"""
import argparse
import copy
import json
import math
import os
import signal
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (safetensors writer)
import networks as N  # noqa: E402

SMALL64 = dict(z_dim=256, w_dim=256, mapping_layers=8, mapping_lrmul=0.01,
               fmap_base=2048, fmap_max=256, fmap_min=1, resolution=64)


def our_config_json(cfg, batch, phase_kimg):
    """The Config our Swift side records (Config.swift, small64's values)."""
    c = {"batchSize": batch, "dEqualizedLR": True, "dSpectralNorm": False, "emaHalfLifeKimg": 10,
         "fmapBase": cfg["fmap_base"], "fmapMax": cfg["fmap_max"], "fmapMin": cfg["fmap_min"],
         "fusedScaleFrom": 128, "gSpectralNorm": False, "learningRate": 0.001,
         "mappingLRMul": cfg["mapping_lrmul"], "mappingLayers": cfg["mapping_layers"], "mbstdGroupSize": 4,
         "name": "small64", "phaseKimg": phase_kimg, "resolution": cfg["resolution"], "styleMixingProb": 0.9,
         "wAvgBeta": 0.995, "wDim": cfg["w_dim"], "zDim": cfg["z_dim"]}
    return json.dumps(c, sort_keys=True, separators=(",", ":"))


def write_snapshot(path, tensors, metadata):
    """make_fixtures.py's safetensors writer, made atomic: a run killed mid-write leaves no torn file."""
    tmp = path + ".tmp"
    mf.write_safetensors(tmp, sorted(tensors.items()), metadata)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Schedule:
    """ProgressiveSchedule.swift's growth, in images shown."""

    def __init__(self, phase_kimg, final_res):
        self.phase_kimg, self.max_level = phase_kimg, N.log2i(final_res) - 2

    def position(self, kimg):
        p = max(0.0, kimg) / self.phase_kimg
        phase = min(int(math.floor(p)), 2 * self.max_level)
        alpha = min(max(p - phase, 0.0), 1.0) if phase % 2 == 1 else 1.0
        return 4 << ((phase + 1) // 2), alpha, phase


class Dataset:
    def __init__(self, path):
        m = json.load(open(os.path.join(path, "manifest.json")))
        self.count = m["count"]
        self.levels = {r: np.memmap(os.path.join(path, f"r{r:03d}.u8"), dtype=np.uint8, mode="r",
                                    shape=(self.count, 3, r, r)) for r in m["resolutions"]}

    def images(self, r, idx):
        return torch.from_numpy(np.stack([self.levels[r][i] for i in idx])).float() / 127.5 - 1


class Run:
    def __init__(self, a):
        self.a = a
        self.cfg = dict(SMALL64, resolution=a.resolution)
        torch.manual_seed(a.seed)
        self.G, self.D = N.Generator(self.cfg), N.Discriminator(self.cfg)
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False)
        self.w_avg = torch.zeros(self.cfg["w_dim"])
        self.noise_const = [torch.randn(1, 1, N.layer_resolution(l), N.layer_resolution(l))
                            for l in range(N.num_layers(a.resolution))]
        self.nimg, self.last_phase, self.iteration = 0, -1, 0
        self.new_optimisers()
        self.perm = (-1, None)

    def new_optimisers(self):
        self.optG = torch.optim.Adam(self.G.parameters(), lr=0.001, betas=(0.0, 0.99), eps=1e-8)
        self.optD = torch.optim.Adam(self.D.parameters(), lr=0.001, betas=(0.0, 0.99), eps=1e-8)

    def state(self):
        return dict(G=self.G.state_dict(), D=self.D.state_dict(), G_ema=self.G_ema.state_dict(), w_avg=self.w_avg,
                    noise_const=self.noise_const, optG=self.optG.state_dict(), optD=self.optD.state_dict(),
                    nimg=self.nimg, last_phase=self.last_phase, iteration=self.iteration,
                    torch_rng=torch.get_rng_state(), args=vars(self.a))

    def load(self, s):
        self.G.load_state_dict(s["G"]); self.D.load_state_dict(s["D"]); self.G_ema.load_state_dict(s["G_ema"])
        self.optG.load_state_dict(s["optG"]); self.optD.load_state_dict(s["optD"])
        self.w_avg, self.noise_const = s["w_avg"], s["noise_const"]
        self.nimg, self.last_phase, self.iteration = s["nimg"], s["last_phase"], s["iteration"]
        torch.set_rng_state(s["torch_rng"])

    def save(self):
        path = os.path.join(self.a.outdir, "state.pt")
        torch.save(self.state(), path + ".tmp")
        os.replace(path + ".tmp", path)
        res, alpha, _ = Schedule(self.a.phase_kimg, self.a.resolution).position(self.nimg / 1000)
        t = {"G_ema." + k: v for k, v in self.G_ema.state_dict().items()}
        t.update({f"G_ema.synthesis.noise_const{l}": n for l, n in enumerate(self.noise_const)})
        t["G_ema.w_avg"] = self.w_avg
        meta = {"format": "stylegan-swift", "format_version": "1", "contents": "generator",
                "config": our_config_json(self.cfg, self.a.batch, self.a.phase_kimg), "kimg": str(self.nimg / 1000),
                "resolution": str(res), "alpha": str(alpha),
                "description": f"PyTorch reference (Tests/reference/train_torch.py), seed {self.a.seed}"}
        write_snapshot(os.path.join(self.a.outdir, f"G_ema-{self.nimg:06d}.safetensors"), t, meta)

    def sample_indices(self, n, count):
        out = []
        for s in range(self.nimg, self.nimg + n):
            epoch = s // count
            if self.perm[0] != epoch:
                self.perm = (epoch, np.random.default_rng([self.a.seed, epoch]).permutation(count))
            out.append(self.perm[1][s % count])
        return np.array(out)

    def styles(self, n, used):
        w = self.G.mapping(torch.randn(n, self.cfg["z_dim"]))
        ws = w[:, None, :].expand(-1, used, -1)
        u = torch.rand(2)
        if used > 1 and u[0].item() < 0.9:
            cutoff = 1 + min(used - 2, int(u[1].item() * (used - 1)))
            w2 = self.G.mapping(torch.randn(n, self.cfg["z_dim"]))
            ws = torch.cat([ws[:, :cutoff], w2[:, None, :].expand(-1, used - cutoff, -1)], dim=1)
        return ws, w

    def step(self, data, r, alpha):
        a, n, used = self.a, self.a.batch, N.num_layers(r)
        reals = data.images(r, self.sample_indices(n, data.count))
        if alpha < 1 and r > 4:
            low = N.upsample_nearest2x(N.downsample_box2x(reals))
            reals = low + (reals - low) * alpha
        # D step: no-grad fakes, logistic loss, R1 on the reals.
        with torch.no_grad():
            ws, _ = self.styles(n, used)
            fakes = self.G.synthesis(ws, None, r, alpha)
        regularise = a.r1_gamma > 0 and self.iteration % a.r1_every == 0
        reals.requires_grad_(regularise)
        real, fake = self.D(reals, r, alpha), self.D(fakes, r, alpha)
        loss_d = (F.softplus(fake) + F.softplus(-real)).mean()
        penalty = torch.zeros(())
        if regularise:
            g, = torch.autograd.grad(real.sum(), reals, create_graph=True)
            penalty = g.square().sum(dim=(1, 2, 3)).mean()
            loss_d = loss_d + penalty * (a.r1_gamma * 0.5 * a.r1_every)
        self.optD.zero_grad(set_to_none=True)
        loss_d.backward()
        self.optD.step()
        # G step through a frozen D.
        self.D.requires_grad_(False)
        ws, w = self.styles(n, used)
        loss_g = F.softplus(-self.D(self.G.synthesis(ws, None, r, alpha), r, alpha)).mean()
        self.optG.zero_grad(set_to_none=True)
        loss_g.backward()
        self.optG.step()
        self.D.requires_grad_(True)
        with torch.no_grad():
            mean = w.mean(dim=0)
            self.w_avg = mean + (self.w_avg - mean) * 0.995
            half_life = min(10_000.0, (self.nimg + n) * 0.05)
            beta = 0.5 ** (n / max(half_life, 1e-8))
            for e, p in zip(self.G_ema.parameters(), self.G.parameters()):
                e.lerp_(p, 1 - beta)
        self.nimg += n
        self.iteration += 1
        return loss_d.item(), loss_g.item(), penalty.item()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--resolution", type=int, default=32)
    ap.add_argument("--phase-kimg", type=float, default=20)
    ap.add_argument("--kimg", type=float, default=100)
    ap.add_argument("--snap-kimg", type=float, default=10)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--r1-gamma", type=float, default=10)
    ap.add_argument("--r1-every", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--resume", action="store_true", help="continue from OUTDIR/state.pt")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    os.makedirs(a.outdir, exist_ok=True)
    data = Dataset(a.data)
    if a.resolution not in data.levels:
        sys.exit(f"{a.data} has no {a.resolution} px level")
    run = Run(a)
    state_path = os.path.join(a.outdir, "state.pt")
    if a.resume:
        run.load(torch.load(state_path, weights_only=False))
    elif os.path.exists(state_path):
        sys.exit(f"{state_path} exists: pass --resume to continue it")
    stop = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.append(1))
    sched = Schedule(a.phase_kimg, a.resolution)
    total, snap = int(round(a.kimg * 1000)), max(a.batch, int(round(a.snap_kimg * 1000)))
    if run.nimg == 0:
        run.save()
    next_snap = (run.nimg // snap + 1) * snap
    tick = (time.time(), run.nimg, [])
    stats = open(os.path.join(a.outdir, "stats.jsonl"), "a")
    while run.nimg < total and not stop:
        r, alpha, phase = sched.position(run.nimg / 1000)
        if phase != run.last_phase:
            if alpha < 1 and run.last_phase >= 0 and phase > run.last_phase:
                run.new_optimisers()   # ProGAN: fresh moments when a resolution starts fading in
            run.last_phase = phase
        tick[2].append(run.step(data, r, alpha))
        if run.nimg - tick[1] >= 1000 or run.nimg >= total:
            dt = time.time() - tick[0]
            m = np.mean(np.array(tick[2]), axis=0)
            line = dict(kimg=run.nimg / 1000, resolution=r, alpha=alpha, loss_d=m[0], loss_g=m[1], penalty=m[2],
                        sec_per_kimg=dt * 1000 / (run.nimg - tick[1]))
            stats.write(json.dumps(line) + "\n")
            stats.flush()
            print(f"kimg {run.nimg / 1000:8.3f}  {r}px alpha {alpha:.2f}  D {m[0]:.4f}  G {m[1]:.4f}  R1 {m[2]:.4f}  "
                  f"{line['sec_per_kimg']:.0f} s/kimg", flush=True)
            tick = (time.time(), run.nimg, [])
        if run.nimg >= next_snap or run.nimg >= total:
            run.save()
            next_snap += snap
    run.save()


if __name__ == "__main__":
    main()
