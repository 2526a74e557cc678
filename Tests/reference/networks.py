#!/usr/bin/env python3
"""Independent PyTorch reference of the StyleGAN1 generator and the ProGAN/StyleGAN
discriminator (NVlabs' G_style = G_mapping + G_synthesis, and D_basic).

Written from the description in Tests/reference/README.md ("Network fixtures") and
checked against NVlabs/stylegan training/networks_stylegan.py. The modules hold the
weights of the full network (up to config["resolution"]); every forward takes the
current resolution R and the fade-in alpha, so one parameter set serves every phase.

Parameter names (state_dict keys, prefixed with "G." / "D." by `named_contract_params`)
are the contract with the Swift side. Layouts are PyTorch's: conv weight
(Cout, Cin, KH, KW), dense weight (out, in).

Equalised learning rate: weights are stored ~ N(0, 1/lrmul^2) and multiplied at run
time by lrmul * gain / sqrt(fan_in); biases are multiplied by lrmul. gain = sqrt(2)
everywhere except toRGB, the style affine and D's last dense (gain 1).

Dtype-agnostic: call .double() on a module for float64 evaluation.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

SLOPE = 0.2
EPS = 1e-8
SQRT2 = math.sqrt(2.0)

TINY = dict(z_dim=16, w_dim=16, mapping_layers=8, mapping_lrmul=0.01,
            fmap_base=256, fmap_max=16, fmap_min=1, resolution=256)

# NVlabs' defaults (G_style / D_basic) at 256x256.
PAPER256 = dict(z_dim=512, w_dim=512, mapping_layers=8, mapping_lrmul=0.01,
                fmap_base=8192, fmap_max=512, fmap_min=1, resolution=256)


# ----------------------------------------------------------------------------
# configuration helpers


def log2i(r):
    k = int(r).bit_length() - 1
    if r < 4 or (1 << k) != r:
        raise ValueError(f"resolution {r} is not a power of two >= 4")
    return k


def nf(cfg, stage):
    """NVlabs' nf(stage) = min(fmap_base / 2**stage, fmap_max), with a floor fmap_min."""
    return max(min(cfg["fmap_base"] // (2 ** stage), cfg["fmap_max"]), cfg["fmap_min"])


def channels(cfg, r):
    """Feature maps at resolution r (r x r): nf(log2(r) - 1)."""
    return nf(cfg, log2i(r) - 1)


def num_layers(r):
    """Synthesis layers of a network whose output is r x r: 2*log2(r) - 2."""
    return 2 * log2i(r) - 2


def layer_resolution(layer):
    return 4 * 2 ** (layer // 2)


def resolutions(cfg):
    return [2 ** k for k in range(2, log2i(cfg["resolution"]) + 1)]


# ----------------------------------------------------------------------------
# primitive ops (independent of make_fixtures.py; the fixture script cross-checks them)


def lrelu(x):
    return F.leaky_relu(x, SLOPE)


def pixel_norm(x):
    return x * torch.rsqrt((x * x).mean(dim=1, keepdim=True) + EPS)


def instance_norm(x):
    x = x - x.mean(dim=(2, 3), keepdim=True)
    return x * torch.rsqrt((x * x).mean(dim=(2, 3), keepdim=True) + EPS)


def blur(x):
    """Depthwise [1,2,1] x [1,2,1] / 16, zero padding 1 (TF 'SAME')."""
    c = x.shape[1]
    k = torch.tensor([1.0, 2.0, 1.0], dtype=x.dtype, device=x.device)
    f = (k[:, None] * k[None, :]) / 16.0
    return F.conv2d(x, f.expand(c, 1, 3, 3), padding=1, groups=c)


def upsample_nearest2x(x):
    n, c, h, w = x.shape
    return x[:, :, :, None, :, None].expand(n, c, h, 2, w, 2).reshape(n, c, 2 * h, 2 * w)


def downsample_box2x(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).mean(dim=(3, 5))


def shift_sum_4x4(w):
    """3x3 kernel (.., 3, 3) -> 4x4: zero pad to 5x5, sum of the four 1-pixel shifts.

    W4[i, j] = P[i, j] + P[i+1, j] + P[i, j+1] + P[i+1, j+1]  (NVlabs' add_n of
    w[1:,1:], w[:-1,1:], w[1:,:-1], w[:-1,:-1]).
    """
    p = F.pad(w, [1, 1, 1, 1])
    return p[..., :-1, :-1] + p[..., 1:, :-1] + p[..., :-1, 1:] + p[..., 1:, 1:]


def minibatch_stddev(x, group=4):
    """NVlabs minibatch_stddev_layer, one new feature map. Sample n is in group n % M."""
    n, c, h, w = x.shape
    g = min(group, n)
    if n % g:
        raise ValueError(f"batch {n} not divisible by group {g}")
    y = x.reshape(g, n // g, c, h, w)
    y = y - y.mean(dim=0, keepdim=True)
    y = torch.sqrt((y * y).mean(dim=0) + EPS)      # (M, C, H, W)
    y = y.mean(dim=(1, 2, 3))                     # (M,)
    y = y.repeat(g).reshape(n, 1, 1, 1).expand(n, 1, h, w)
    return torch.cat([x, y], dim=1)


# ----------------------------------------------------------------------------
# equalised-lr layers


class EqualizedLinear(nn.Module):
    def __init__(self, fan_in, fan_out, gain=SQRT2, lrmul=1.0, bias=True):
        super().__init__()
        self.lrmul = lrmul
        self.coef = lrmul * gain / math.sqrt(fan_in)
        self.weight = nn.Parameter(torch.randn(fan_out, fan_in) / lrmul)
        self.bias = nn.Parameter(torch.zeros(fan_out)) if bias else None

    def forward(self, x):
        y = x @ (self.weight * self.coef).t()
        if self.bias is not None:
            y = y + self.bias * self.lrmul
        return y


class EqualizedConv2d(nn.Module):
    """Weight (Cout, Cin, k, k); mode 'same' | 'up' (nearest-2x then conv, or fused
    transposed conv) | 'down' (conv then 2x2 box, or fused stride-2 conv)."""

    def __init__(self, cin, cout, kernel, gain=SQRT2, bias=True):
        super().__init__()
        self.coef = gain / math.sqrt(cin * kernel * kernel)
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None

    def scaled_weight(self):
        return self.weight * self.coef

    def forward(self, x, mode="same", fused=False):
        w = self.scaled_weight()
        pad = w.shape[-1] // 2
        if mode == "same":
            y = F.conv2d(x, w, padding=pad)
        elif mode == "up":
            if fused:
                # NVlabs upscale2d_conv2d(fused_scale=True): conv2d_transpose, stride 2,
                # 'SAME' (= padding 1 here) with the shift-summed 4x4 kernel.
                y = F.conv_transpose2d(x, shift_sum_4x4(w).transpose(0, 1), stride=2, padding=1)
            else:
                y = F.conv2d(upsample_nearest2x(x), w, padding=pad)
        elif mode == "down":
            if fused:
                # NVlabs conv2d_downscale2d(fused_scale=True): stride-2 conv, 'SAME'.
                y = F.conv2d(x, shift_sum_4x4(w) * 0.25, stride=2, padding=1)
            else:
                y = downsample_box2x(F.conv2d(x, w, padding=pad))
        else:
            raise ValueError(mode)
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1, 1)
        return y


# ----------------------------------------------------------------------------
# generator


class MappingNetwork(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.n = cfg["mapping_layers"]
        for i in range(self.n):
            fin = cfg["z_dim"] if i == 0 else cfg["w_dim"]
            setattr(self, f"fc{i}", EqualizedLinear(fin, cfg["w_dim"], gain=SQRT2,
                                                    lrmul=cfg["mapping_lrmul"]))

    def forward(self, z):
        x = pixel_norm(z)
        for i in range(self.n):
            x = lrelu(getattr(self, f"fc{i}")(x))
        return x


class SynthesisLayer(nn.Module):
    """conv (none for layer 0; 'up' + blur for even layers >= 2) then the epilogue:
    noise, bias, lrelu, instance norm, AdaIN style.

    With cfg["demodulate"] (StyleGAN2's weight demodulation, Karras et al. 2020, in place of
    AdaIN): no instance norm; the style is a scale s = 1 + affine(w) per channel (C outputs);
    the layer's output is x * s, and the next conv, whose input that is, multiplies its outputs by
    d_o = 1 / sqrt(sum_{i,k} (w_oik s_i)^2 + 1e-8) (w as used, with its equalised-lr scale),
    right after the conv (before the up-conv's blur): StyleGAN2's modulated conv written as
    "scale the input, conv, scale the output" (its fused_modconv=False form)."""

    def __init__(self, cfg, layer):
        super().__init__()
        self.layer = layer
        self.res = layer_resolution(layer)
        c = channels(cfg, self.res)
        self.up = layer >= 2 and layer % 2 == 0
        self.fused = self.up and self.res >= 128   # NVlabs fused_scale='auto'
        if layer >= 1:
            cin = channels(cfg, self.res // 2) if self.up else c
            self.conv = EqualizedConv2d(cin, c, 3, gain=SQRT2, bias=False)
        self.noise_strength = nn.Parameter(torch.zeros(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.demod = bool(cfg.get("demodulate"))
        self.style = EqualizedLinear(cfg["w_dim"], c if self.demod else 2 * c, gain=1.0, lrmul=1.0)
        self.c = c

    def forward(self, x, w, noise, s_in=None):
        """AdaIN: returns x. Demodulated: x was scaled by s_in (the previous layer's scales,
        None for the constant); returns (x * s, s)."""
        if self.layer >= 1:
            x = self.conv(x, "up", self.fused) if self.up else self.conv(x, "same")
            if self.demod:
                wsq = self.conv.scaled_weight().square().sum(dim=[2, 3])        # (Cout, Cin)
                d = torch.rsqrt(s_in.square() @ wsq.t() + 1e-8)                 # (N, Cout)
                x = x * d[:, :, None, None]
            if self.up:
                x = blur(x)
        x = x + noise * self.noise_strength.view(1, -1, 1, 1)
        x = lrelu(x + self.bias.view(1, -1, 1, 1))
        if self.demod:
            s = 1.0 + self.style(w)
            return x * s[:, :, None, None], s
        x = instance_norm(x)
        s = self.style(w)
        return x * (1.0 + s[:, :self.c, None, None]) + s[:, self.c:, None, None]


class SynthesisNetwork(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.max_res = cfg["resolution"]
        self.const = nn.Parameter(torch.ones(1, nf(cfg, 1), 4, 4))
        for layer in range(num_layers(self.max_res)):
            setattr(self, f"layer{layer}", SynthesisLayer(cfg, layer))
        for r in resolutions(cfg):
            setattr(self, f"torgb{r}", EqualizedConv2d(channels(cfg, r), 3, 1, gain=1.0, bias=True))

    def forward(self, ws, noise, resolution, alpha=1.0):
        """ws (N, L_R, w_dim); noise: list/dict indexed by layer of (N, 1, r_L, r_L)
        (None = fresh N(0,1) noise). Returns the (N, 3, R, R) image."""
        R = resolution
        nl = num_layers(R)
        if R > self.max_res or ws.shape[1] != nl:
            raise ValueError("bad resolution / ws")
        n = ws.shape[0]
        x = self.const.expand(n, -1, -1, -1)
        prev = None
        s = None
        for layer in range(nl):
            mod = getattr(self, f"layer{layer}")
            nz = None if noise is None else noise[layer]
            if nz is None:
                r = layer_resolution(layer)
                nz = torch.randn(n, 1, r, r, dtype=ws.dtype, device=ws.device)
            if mod.demod:
                x, s = mod(x, ws[:, layer], nz, s)
            else:
                x = mod(x, ws[:, layer], nz)
            if layer == nl - 3:
                prev = x   # last activation at R/2 (R > 4)
        img = getattr(self, f"torgb{R}")(x)
        if R > 4 and alpha < 1.0:
            up = upsample_nearest2x(getattr(self, f"torgb{R // 2}")(prev))
            img = up + alpha * (img - up)
        return img


class Generator(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.mapping = MappingNetwork(cfg)
        self.synthesis = SynthesisNetwork(cfg)

    def forward(self, z, resolution, alpha=1.0, noise=None):
        w = self.mapping(z)
        ws = w[:, None, :].expand(-1, num_layers(resolution), -1)
        return self.synthesis(ws, noise, resolution, alpha)


# ----------------------------------------------------------------------------
# discriminator


class DBlock(nn.Module):
    """r x r -> r/2 x r/2: conv0 + lrelu, blur, conv1 down (fused at r >= 128) + lrelu."""

    def __init__(self, cfg, r):
        super().__init__()
        c, c2 = channels(cfg, r), channels(cfg, r // 2)
        self.fused = r >= 128   # NVlabs fused_scale='auto' (input size >= 128)
        self.conv0 = EqualizedConv2d(c, c, 3, gain=SQRT2, bias=True)
        self.conv1 = EqualizedConv2d(c, c2, 3, gain=SQRT2, bias=True)

    def forward(self, x):
        x = lrelu(self.conv0(x))
        x = blur(x)
        return lrelu(self.conv1(x, "down", self.fused))


class DBlock4(nn.Module):
    def __init__(self, cfg, mbstd_group=4):
        super().__init__()
        c1, c0 = nf(cfg, 1), nf(cfg, 0)
        self.mbstd_group = mbstd_group
        self.conv = EqualizedConv2d(c1 + 1, c1, 3, gain=SQRT2, bias=True)
        self.fc0 = EqualizedLinear(c1 * 16, c0, gain=SQRT2)
        self.fc1 = EqualizedLinear(c0, 1, gain=1.0)

    def forward(self, x):
        x = minibatch_stddev(x, self.mbstd_group)
        x = lrelu(self.conv(x))
        x = lrelu(self.fc0(x.flatten(1)))
        return self.fc1(x)


class Discriminator(nn.Module):
    def __init__(self, cfg, mbstd_group=4):
        super().__init__()
        self.cfg = cfg
        self.max_res = cfg["resolution"]
        for r in resolutions(cfg):
            setattr(self, f"fromrgb{r}", EqualizedConv2d(3, channels(cfg, r), 1, gain=SQRT2, bias=True))
        for r in resolutions(cfg):
            setattr(self, f"block{r}", DBlock4(cfg, mbstd_group) if r == 4 else DBlock(cfg, r))

    def fromrgb(self, img, r):
        return lrelu(getattr(self, f"fromrgb{r}")(img))

    def forward(self, img, resolution, alpha=1.0):
        R = resolution
        if R > self.max_res or img.shape[-1] != R:
            raise ValueError("bad resolution / image")
        x = self.fromrgb(img, R)
        r = R
        while r > 4:
            x = getattr(self, f"block{r}")(x)
            if r == R and alpha < 1.0:
                y = self.fromrgb(downsample_box2x(img), R // 2)
                x = y + alpha * (x - y)
            r //= 2
        return self.block4(x)


# ----------------------------------------------------------------------------
# names and bookkeeping


def named_contract_params(G=None, D=None):
    """[(contract name, parameter)] with the "G." / "D." prefixes."""
    out = []
    if G is not None:
        out += [("G." + k, p) for k, p in G.named_parameters()]
    if D is not None:
        out += [("D." + k, p) for k, p in D.named_parameters()]
    return out


def g_synthesis_params_used(cfg, resolution, alpha):
    """Names (without the G. prefix) of the synthesis parameters a forward at
    (resolution, alpha) uses."""
    names = ["synthesis.const"]
    for layer in range(num_layers(resolution)):
        p = f"synthesis.layer{layer}."
        if layer >= 1:
            names.append(p + "conv.weight")
        names += [p + "noise_strength", p + "bias", p + "style.weight", p + "style.bias"]
    rs = [resolution] + ([resolution // 2] if resolution > 4 and alpha < 1.0 else [])
    for r in rs:
        names += [f"synthesis.torgb{r}.weight", f"synthesis.torgb{r}.bias"]
    return names


def d_params_used(cfg, resolution, alpha):
    rs = [resolution] + ([resolution // 2] if resolution > 4 and alpha < 1.0 else [])
    names = []
    for r in rs:
        names += [f"fromrgb{r}.weight", f"fromrgb{r}.bias"]
    r = resolution
    while r > 4:
        names += [f"block{r}.conv0.weight", f"block{r}.conv0.bias",
                  f"block{r}.conv1.weight", f"block{r}.conv1.bias"]
        r //= 2
    names += ["block4.conv.weight", "block4.conv.bias", "block4.fc0.weight",
              "block4.fc0.bias", "block4.fc1.weight", "block4.fc1.bias"]
    return names


def count_params(module):
    return sum(p.numel() for p in module.parameters())
