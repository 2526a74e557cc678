#!/usr/bin/env python3
"""Write fixtures for `stylegan import` of NVIDIA's StyleGAN1 TensorFlow pickles.

Upstream: https://github.com/NVlabs/stylegan
Made from upstream commit 1e0d5c781384ef12b50ef20a62fee5d78b38e88f
(2021-10-28, "Update README.md"): training/networks_stylegan.py,
dnnlib/tflib/network.py (Network.__getstate__), training/training_loop.py,
train.py, training/misc.py (save_pkl).

Usage (from the repository root):
    python3 Tests/reference/make_nvidia_fixtures.py [--upstream UPSTREAM] [--out Tests/Fixtures/import]

NVIDIA's files (karras2019stylegan-ffhq-1024x1024.pkl, ...) are `pickle.dump((G, D, Gs),
protocol=4)` of `dnnlib.tflib.network.Network` objects, written by Python 3.6 with
numpy 1.x. No TensorFlow is needed here: a stand-in class pickles under the same global
name with the same state dict that Network.__getstate__ returns, and numpy arrays and
scalars are written with the numpy 1.x globals (numpy.core.multiarray._reconstruct /
scalar) whatever numpy runs this script.

The variable lists (names, order, shapes) are written out below from
networks_stylegan.py, in the order TensorFlow creates them in the template graph that
Network builds (structure 'linear' there, since is_template_graph forces it). With
--upstream (a git directory or work tree of NVlabs/stylegan) the script also executes
upstream's G_style / G_mapping / G_synthesis / D_basic under a shape-only stub of the
few TensorFlow calls they use and checks that they create exactly these variables.

The reference forward passes (`ref_*`) are NumPy (float64) re-implementations of
networks_stylegan.py at lod 0; the self-checks compare their pieces and the whole
networks with an independent PyTorch version when torch is installed.

Files written (R in 32, 256; N = 4 at 32 px, 2 at 256 px); see NVIDIA.md:
    nvidia-R.pkl                 (G, D, Gs), pickle protocol 4
    nvidia-32-proto2.pkl         the same objects as nvidia-32.pkl, protocol 2
    nvidia-R-z.npy               [N, 32] float32 latents
    nvidia-R-dlatents.npy        [N, L, 32] Gs mapping output (before truncation)
    nvidia-R-images-none.npy     [N, 3, R, R] Gs(z), noise inputs zero, no truncation
    nvidia-R-images-const.npy    [N, 3, R, R] Gs(z), stored noise0.. buffers, no truncation
    nvidia-R-images-trunc.npy    [N, 3, R, R] Gs(z), noise zero, psi 0.7, cutoff 4
    nvidia-R-d-scores.npy        [N, 1] D(images-none)
    nvidia-32-d-scores-n8.npy    [8, 1] D(concat(images-none, images-const)), two mbstd groups
"""

import argparse
import codecs
import collections
import contextlib
import importlib.util
import inspect
import io
import os
import pickle
import pickletools
import subprocess
import sys
import tempfile
import types

import numpy as np

UPSTREAM_COMMIT = "1e0d5c781384ef12b50ef20a62fee5d78b38e88f"

# Small networks. Everything not listed keeps networks_stylegan.py's default
# (mapping_layers 8, mapping_lrmul 0.01, fmap_decay 1.0, use_wscale, lrelu 0.2,
# blur [1,2,1], fused_scale 'auto', mbstd group 4 / 1 feature, ...).
LATENT_SIZE = 32
DLATENT_SIZE = 32
MAPPING_FMAPS = 32
MAPPING_LAYERS = 8          # the default: not recorded in static_kwargs
MAPPING_LRMUL = 0.01        # the default
FMAP_BASE = 1024
FMAP_MAX = 32
FMAP_DECAY = 1.0            # the default
NUM_CHANNELS = 3
RESOLUTIONS = [32, 256]
BATCH = {32: 4, 256: 2}
TRUNC_PSI = 0.7
TRUNC_CUTOFF = 4

# What train.py + training_loop.py record: tflib.Network('G', num_channels=...,
# resolution=..., label_size=..., **G_args), G_args being train.py's EasyDict minus
# func_name. Gs = G.clone('Gs') copies G's static_kwargs unchanged.
G_ARGS = collections.OrderedDict([("latent_size", LATENT_SIZE), ("dlatent_size", DLATENT_SIZE),
                                  ("mapping_fmaps", MAPPING_FMAPS), ("fmap_base", FMAP_BASE),
                                  ("fmap_max", FMAP_MAX)])
D_ARGS = collections.OrderedDict([("fmap_base", FMAP_BASE), ("fmap_max", FMAP_MAX)])

# Stands in for Network._build_module_src (inspect.getsource of
# training/networks_stylegan.py, ~33 kB in real files). Longer than 255 bytes (BINUNICODE)
# and not ASCII only, so a reader's UTF-8 string path is exercised. Never executed.
MODULE_SRC = (
    "# Stand-in for the build module source that dnnlib.tflib.Network stores in its pickle\n"
    "# (build_module_src). Written by Tests/reference/make_nvidia_fixtures.py \u2014 it is not\n"
    "# NVIDIA's source, and an importer must never execute it.\n"
    "\n"
    "def G_style(latents_in, labels_in, **kwargs):\n    raise NotImplementedError\n\n"
    "def G_mapping(latents_in, labels_in, **kwargs):\n    raise NotImplementedError\n\n"
    "def G_synthesis(dlatents_in, **kwargs):\n    raise NotImplementedError\n\n"
    "def D_basic(images_in, labels_in, **kwargs):\n    raise NotImplementedError\n"
)


def nf(stage):
    return min(int(FMAP_BASE / (2.0 ** (stage * FMAP_DECAY))), FMAP_MAX)


def log2(r):
    k = int(np.log2(r))
    assert 2 ** k == r and r >= 4
    return k


def fused(res_out):
    """fused_scale='auto': G's Conv0_up fuses when its output is >= 128 px, D's Conv1_down
    when its input is >= 128 px; both mean the block at 2**res >= 128."""
    return 2 ** res_out >= 128


# --------------------------------------------------------------------------
# Variable lists (own variables of each Network, template-graph creation order).

def spec_g_mapping():
    v = []
    for i in range(MAPPING_LAYERS):
        fin = LATENT_SIZE if i == 0 else MAPPING_FMAPS
        fout = DLATENT_SIZE if i == MAPPING_LAYERS - 1 else MAPPING_FMAPS
        v += [("Dense%d/weight" % i, (fin, fout)), ("Dense%d/bias" % i, (fout,))]
    return v


def num_layers(R):
    return log2(R) * 2 - 2


def spec_g_synthesis(R):
    rl = log2(R)
    v = [("lod", ())]
    for i in range(num_layers(R)):
        r = 2 ** (i // 2 + 2)
        v.append(("noise%d" % i, (1, 1, r, r)))

    def epilogue(scope, c):
        return [(scope + "/Noise/weight", (c,)), (scope + "/bias", (c,)),
                (scope + "/StyleMod/weight", (DLATENT_SIZE, 2 * c)), (scope + "/StyleMod/bias", (2 * c,))]

    def torgb(res):
        s = "ToRGB_lod%d" % (rl - res)
        return [(s + "/weight", (1, 1, nf(res - 1), NUM_CHANNELS)), (s + "/bias", (NUM_CHANNELS,))]

    v += [("4x4/Const/const", (1, nf(1), 4, 4))] + epilogue("4x4/Const", nf(1))
    v += [("4x4/Conv/weight", (3, 3, nf(1), nf(1)))] + epilogue("4x4/Conv", nf(1))
    v += torgb(2)
    for res in range(3, rl + 1):
        s = "%dx%d" % (2 ** res, 2 ** res)
        v += [(s + "/Conv0_up/weight", (3, 3, nf(res - 2), nf(res - 1)))] + epilogue(s + "/Conv0_up", nf(res - 1))
        v += [(s + "/Conv1/weight", (3, 3, nf(res - 1), nf(res - 1)))] + epilogue(s + "/Conv1", nf(res - 1))
        v += torgb(res)
    return v


def spec_g_style():
    return [("lod", ()), ("dlatent_avg", (DLATENT_SIZE,))]


def spec_d_basic(R):
    rl = log2(R)

    def fromrgb(res):
        s = "FromRGB_lod%d" % (rl - res)
        return [(s + "/weight", (1, 1, NUM_CHANNELS, nf(res - 1))), (s + "/bias", (nf(res - 1),))]

    v = [("lod", ())] + fromrgb(rl)
    for res in range(rl, 2, -1):
        s = "%dx%d" % (2 ** res, 2 ** res)
        v += [(s + "/Conv0/weight", (3, 3, nf(res - 1), nf(res - 1))), (s + "/Conv0/bias", (nf(res - 1),)),
              (s + "/Conv1_down/weight", (3, 3, nf(res - 1), nf(res - 2))), (s + "/Conv1_down/bias", (nf(res - 2),))]
        v += fromrgb(res - 1)
    v += [("4x4/Conv/weight", (3, 3, nf(1) + 1, nf(1))), ("4x4/Conv/bias", (nf(1),)),
          ("4x4/Dense0/weight", (nf(1) * 16, nf(0))), ("4x4/Dense0/bias", (nf(0),)),
          ("4x4/Dense1/weight", (nf(0), 1)), ("4x4/Dense1/bias", (1,))]
    return v


# --------------------------------------------------------------------------
# Values.

NON_TRAINABLE = ("lod", "dlatent_avg")


def is_trainable(name):
    return name not in NON_TRAINABLE and not name.startswith("noise")


def make_values(spec, rng, mapping=False):
    """Realistic magnitudes for what NVIDIA stores: use_wscale weights are stored
    unscaled, ~N(0, 1/lrmul) (so ~N(0, 100) in G_mapping, whose runtime coefficient is
    sqrt(2)/sqrt(fan_in)*0.01); biases, noise strengths and StyleMod biases start at zero
    upstream but are non-zero after training, so they are small random values here."""
    out = collections.OrderedDict()
    for name, shape in spec:
        if name == "lod":
            # TF's Session.run returns a numpy *scalar* (PyArray_Return) for a 0-d
            # variable, so 'lod' pickles as numpy.core.multiarray.scalar, not as an array.
            out[name] = np.float32(0.0)
            continue
        z = rng.standard_normal(shape)
        if name.startswith("noise") or name.endswith("Const/const"):
            val = z
        elif name == "dlatent_avg":
            val = 0.5 * z
        elif mapping and name.endswith("/weight"):
            val = z / MAPPING_LRMUL
        elif mapping and name.endswith("/bias"):
            val = 10.0 * z                      # runtime: * 0.01 -> ~N(0, 0.1)
        elif name.endswith("/Noise/weight") or name.endswith("StyleMod/bias"):
            val = 0.2 * z
        elif name.endswith("/bias"):
            val = 0.1 * z
        else:
            assert name.endswith("/weight"), name
            val = z
        out[name] = np.ascontiguousarray(val, dtype=np.float32)
        assert out[name].shape == tuple(shape)
    return out


def perturbed(values, rng):
    """G (the instantaneous snapshot) next to Gs (the EMA): trainables differ, the
    non-trainables (lod, noise*, dlatent_avg) are copied G -> Gs by
    setup_as_moving_average_of(beta_nontrainable=0), so they are equal."""
    out = collections.OrderedDict()
    for name, val in values.items():
        if is_trainable(name):
            val = (val + 0.05 * float(np.std(val)) * rng.standard_normal(val.shape)).astype(np.float32)
        out[name] = val
    return out


# --------------------------------------------------------------------------
# Pickling: stand-in for dnnlib.tflib.network.Network and numpy 1.x globals.

class Network:
    """Pickles as the global dnnlib.tflib.network.Network, state = the dict of
    NVIDIA's Network.__getstate__ (same keys, same order, version 3)."""

    def __init__(self, state=None):
        self._state = state

    def __getstate__(self):
        return self._state

    def __setstate__(self, state):
        self._state = state


Network.__module__ = "dnnlib.tflib.network"
Network.__qualname__ = "Network"


def fresh(s):
    """A new str object equal to s (NVIDIA's variable names and build func names are
    slices made per network, so a real stream does not memo-share them)."""
    t = (s + "\0")[:-1]
    assert t == s and (len(s) < 2 or t is not s)
    return t


def network_state(name, static_kwargs, components, src, func_name, variables):
    # Same statements as dnnlib/tflib/network.py Network.__getstate__.
    state = dict()
    state["version"] = 3
    state["name"] = name
    state["static_kwargs"] = dict(static_kwargs)
    state["components"] = dict(components)
    state["build_module_src"] = src
    state["build_func_name"] = func_name
    state["variables"] = list(zip([fresh(k) for k in variables.keys()], variables.values()))
    return Network(state)


def _np1_reconstruct(*args):
    raise AssertionError("never called: loading maps the name to numpy's own function")


def _np1_scalar(*args):
    raise AssertionError("never called")


_np1_reconstruct.__module__ = _np1_scalar.__module__ = "numpy.core.multiarray"
_np1_reconstruct.__name__ = _np1_reconstruct.__qualname__ = "_reconstruct"
_np1_scalar.__name__ = _np1_scalar.__qualname__ = "scalar"


@contextlib.contextmanager
def patched_modules(mods):
    saved = {k: sys.modules.get(k) for k in mods}
    sys.modules.update(mods)
    try:
        yield
    finally:
        for k, m in saved.items():
            if m is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = m


def pickle_modules():
    dnnlib = types.ModuleType("dnnlib")
    tflib = types.ModuleType("dnnlib.tflib")
    network = types.ModuleType("dnnlib.tflib.network")
    network.Network = Network
    dnnlib.tflib = tflib
    tflib.network = network
    mam = types.ModuleType("numpy.core.multiarray")
    mam._reconstruct = _np1_reconstruct
    mam.scalar = _np1_scalar
    return {"dnnlib": dnnlib, "dnnlib.tflib": tflib, "dnnlib.tflib.network": network,
            "numpy.core.multiarray": mam}


class NumPy1Pickler(pickle.Pickler):
    """The C pickler, with ndarray / numpy scalars reduced exactly as numpy 1.x does
    (ndarray.__reduce__ for protocol < 5, generic.__reduce__), but naming the numpy 1.x
    module numpy.core.multiarray (numpy 2 would write numpy._core.multiarray).
    numpy.dtype and numpy.ndarray keep their names (the same in numpy 1 and 2)."""

    def reducer_override(self, obj):
        if type(obj) is np.ndarray:
            _, args, state = obj.__reduce__()
            assert args[0] is np.ndarray
            return (_np1_reconstruct, args, state)
        if isinstance(obj, np.generic):
            _, args = obj.__reduce__()
            return (_np1_scalar, args)
        return NotImplemented


def dump_pickle(obj, protocol):
    buf = io.BytesIO()
    with patched_modules(pickle_modules()):
        NumPy1Pickler(buf, protocol=protocol).dump(obj)
    return buf.getvalue()


def _numpy_multiarray():
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray
    return multiarray


class RestrictedReader(pickle.Unpickler):
    """Loads the fixtures back with an allow-list of globals (what a safe importer
    accepts) and records every global the stream names."""

    def __init__(self, f):
        super().__init__(f)
        ma = _numpy_multiarray()
        self.allowed = {
            ("dnnlib.tflib.network", "Network"): Network,
            ("numpy.core.multiarray", "_reconstruct"): ma._reconstruct,
            ("numpy.core.multiarray", "scalar"): ma.scalar,
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): np.dtype,
            ("_codecs", "encode"): codecs.encode,
        }
        self.seen = []

    def find_class(self, module, name):
        self.seen.append((module, name))
        if (module, name) not in self.allowed:
            raise pickle.UnpicklingError("global %s.%s not allowed" % (module, name))
        return self.allowed[(module, name)]


def load_pickle(data):
    r = RestrictedReader(io.BytesIO(data))
    obj = r.load()
    return obj, r.seen


def stream_summary(data):
    ops = collections.Counter(op.name for op, _, _ in pickletools.genops(data))
    return ops


# --------------------------------------------------------------------------
# Building (G, D, Gs).

def build_networks(R, seed):
    rng = np.random.default_rng(seed)
    L = num_layers(R)
    gs_syn = make_values(spec_g_synthesis(R), rng)
    gs_map = make_values(spec_g_mapping(), rng, mapping=True)
    gs_top = make_values(spec_g_style(), rng)
    d_vals = make_values(spec_d_basic(R), rng)
    g_syn = perturbed(gs_syn, rng)
    g_map = perturbed(gs_map, rng)
    g_top = perturbed(gs_top, rng)

    g_kwargs = collections.OrderedDict([("num_channels", NUM_CHANNELS), ("resolution", R), ("label_size", 0)])
    g_kwargs.update(G_ARGS)
    d_kwargs = collections.OrderedDict([("num_channels", NUM_CHANNELS), ("resolution", R), ("label_size", 0)])
    d_kwargs.update(D_ARGS)
    # G_style passes its **kwargs (the static kwargs it does not name) to both
    # components, and dlatent_broadcast=num_layers before them to G_mapping.
    map_kwargs = collections.OrderedDict([("dlatent_broadcast", L)])
    map_kwargs.update(g_kwargs)

    def g_like(name, top, syn, mp, src=None, func_name=None):
        # components are created in G_style in this order: synthesis, then mapping.
        synthesis = network_state("G_synthesis", g_kwargs, {}, fresh(MODULE_SRC), fresh("G_synthesis"), syn)
        mapping = network_state("G_mapping", map_kwargs, {}, fresh(MODULE_SRC), fresh("G_mapping"), mp)
        comps = {"synthesis": synthesis, "mapping": mapping}
        return network_state(name, g_kwargs, comps, src if src is not None else fresh(MODULE_SRC),
                             func_name if func_name is not None else fresh("G_style"), top)

    G = g_like("G", g_top, g_syn, g_map)
    D = network_state("D", d_kwargs, {}, fresh(MODULE_SRC), fresh("D_basic"), d_vals)
    # Network.clone shares _build_module_src and _build_func_name with the original.
    Gs = g_like("Gs", gs_top, gs_syn, gs_map, src=G._state["build_module_src"],
                func_name=G._state["build_func_name"])
    return (G, D, Gs), dict(syn=gs_syn, map=gs_map, top=gs_top, d=d_vals)


# --------------------------------------------------------------------------
# NumPy reference forward (float64), written from networks_stylegan.py.

SQRT2 = np.sqrt(2.0)


def ws(w, gain, lrmul=1.0):
    """get_weight with use_wscale: stored * gain/sqrt(fan_in) * lrmul, fan_in = prod(shape[:-1])."""
    fan_in = np.prod(w.shape[:-1])
    return np.asarray(w, np.float64) * (gain / np.sqrt(fan_in) * lrmul)


def lrelu(x):
    return np.maximum(x, x * 0.2)


def tf_same_pads(n, k, s):
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def conv2d(x, w, stride=1):
    """tf.nn.conv2d(x, w, strides=[1,1,s,s], padding='SAME', data_format='NCHW'), w HWIO."""
    kh, kw, ci, co = w.shape
    assert x.shape[1] == ci
    pt, pb = tf_same_pads(x.shape[2], kh, stride)
    pl, pr = tf_same_pads(x.shape[3], kw, stride)
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    return np.einsum("nchwij,ijco->nohw", win, w, optimize=True)


def conv2d_transpose_s2(x, f):
    """tf.nn.conv2d_transpose(x, f, [N, out, 2H, 2W], strides=[1,1,2,2], padding='SAME',
    data_format='NCHW') with f [k, k, out, in]: the adjoint of conv2d(y, f, stride 2, SAME)."""
    n, c, h, w = x.shape
    k, _, o, ci = f.shape
    assert ci == c
    pt, _ = tf_same_pads(2 * h, k, 2)
    pl, _ = tf_same_pads(2 * w, k, 2)
    yp = np.zeros((n, o, 2 * (h - 1) + k, 2 * (w - 1) + k))
    for a in range(k):
        for b in range(k):
            yp[:, :, a:a + 2 * h:2, b:b + 2 * w:2] += np.einsum("nchw,oc->nohw", x, f[a, b])
    return yp[:, :, pt:pt + 2 * h, pl:pl + 2 * w]


def fused_up_kernel(w):
    """upscale2d_conv2d, fused: [k,k,in,out] -> transposed [k,k,out,in], padded, 4 shifted sums."""
    w = np.transpose(w, (0, 1, 3, 2))
    w = np.pad(w, ((1, 1), (1, 1), (0, 0), (0, 0)))
    return w[1:, 1:] + w[:-1, 1:] + w[1:, :-1] + w[:-1, :-1]


def fused_down_kernel(w):
    """conv2d_downscale2d, fused: [k,k,in,out] padded, 4 shifted sums * 0.25 -> [k+1,k+1,in,out]."""
    w = np.pad(w, ((1, 1), (1, 1), (0, 0), (0, 0)))
    return (w[1:, 1:] + w[:-1, 1:] + w[1:, :-1] + w[:-1, :-1]) * 0.25


def upscale2d(x):
    return x.repeat(2, axis=2).repeat(2, axis=3)


def downscale2d(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


BLUR = np.outer([1.0, 2.0, 1.0], [1.0, 2.0, 1.0]) / 16.0


def blur2d(x):
    """_blur2d(x, [1,2,1], normalize=True): depthwise 3x3, SAME (zero) padding."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    y = np.zeros_like(x)
    for a in range(3):
        for b in range(3):
            y += BLUR[a, b] * xp[:, :, a:a + h, b:b + w]
    return y


def pixel_norm(x, eps=1e-8):
    return x / np.sqrt(np.mean(x * x, axis=1, keepdims=True) + eps)


def instance_norm(x, eps=1e-8):
    x = x - x.mean(axis=(2, 3), keepdims=True)
    return x / np.sqrt(np.mean(x * x, axis=(2, 3), keepdims=True) + eps)


def minibatch_stddev(x, group_size=4, num_new_features=1):
    n, c, h, w = x.shape
    g = min(group_size, n)
    y = x.reshape(g, -1, num_new_features, c // num_new_features, h, w)   # sample i = g_idx * M + m
    y = y - y.mean(axis=0, keepdims=True)
    y = np.mean(y * y, axis=0)
    y = np.sqrt(y + 1e-8)
    y = y.mean(axis=(2, 3, 4))                                             # [M, n]
    y = np.tile(y[:, :, None, None], (g, 1, h, w))                         # [N, n, H, W]
    return np.concatenate([x, y], axis=1)


def ref_mapping(z, mv):
    x = pixel_norm(np.asarray(z, np.float64))
    for i in range(MAPPING_LAYERS):
        x = x @ ws(mv["Dense%d/weight" % i], SQRT2, MAPPING_LRMUL)
        x = x + np.asarray(mv["Dense%d/bias" % i], np.float64) * MAPPING_LRMUL
        x = lrelu(x)
    return x                                                                # [N, dlatent]


def ref_truncate(dlatents, dlatent_avg, psi, cutoff):
    """G_style: coefs = psi where layer_idx < cutoff else 1; lerp(avg, w, coefs)."""
    L = dlatents.shape[1]
    coefs = np.where(np.arange(L) < cutoff, psi, 1.0)[None, :, None]
    avg = np.asarray(dlatent_avg, np.float64)
    return avg + (dlatents - avg) * coefs


def ref_synthesis(dlatents, sv, R, noise="zero"):
    """G_synthesis at lod 0. noise: 'zero' (noise inputs all zero) or 'const'
    (randomize_noise=False: the stored noise%d buffers)."""
    rl = log2(R)
    n = dlatents.shape[0]

    def epilogue(x, layer, scope):
        if noise == "const":
            x = x + np.asarray(sv["noise%d" % layer], np.float64) * sv[scope + "/Noise/weight"].astype(np.float64)[None, :, None, None]
        x = x + sv[scope + "/bias"].astype(np.float64)[None, :, None, None]
        x = lrelu(x)
        x = instance_norm(x)
        style = dlatents[:, layer] @ ws(sv[scope + "/StyleMod/weight"], 1.0) + sv[scope + "/StyleMod/bias"]
        style = style.reshape(n, 2, x.shape[1], 1, 1)
        return x * (style[:, 0] + 1) + style[:, 1]

    x = np.tile(sv["4x4/Const/const"].astype(np.float64), (n, 1, 1, 1))
    x = epilogue(x, 0, "4x4/Const")
    x = epilogue(conv2d(x, ws(sv["4x4/Conv/weight"], SQRT2)), 1, "4x4/Conv")
    for res in range(3, rl + 1):
        s = "%dx%d" % (2 ** res, 2 ** res)
        w = ws(sv[s + "/Conv0_up/weight"], SQRT2)
        if fused(res):
            y = conv2d_transpose_s2(x, fused_up_kernel(w))
        else:
            y = conv2d(upscale2d(x), w)
        x = epilogue(blur2d(y), res * 2 - 4, s + "/Conv0_up")
        x = epilogue(conv2d(x, ws(sv[s + "/Conv1/weight"], SQRT2)), res * 2 - 3, s + "/Conv1")
    return conv2d(x, ws(sv["ToRGB_lod0/weight"], 1.0)) + sv["ToRGB_lod0/bias"].astype(np.float64)[None, :, None, None]


def ref_discriminator(img, dv, R):
    rl = log2(R)
    b = lambda name: dv[name].astype(np.float64)[None, :, None, None]
    x = lrelu(conv2d(np.asarray(img, np.float64), ws(dv["FromRGB_lod0/weight"], SQRT2)) + b("FromRGB_lod0/bias"))
    for res in range(rl, 2, -1):
        s = "%dx%d" % (2 ** res, 2 ** res)
        x = lrelu(conv2d(x, ws(dv[s + "/Conv0/weight"], SQRT2)) + b(s + "/Conv0/bias"))
        x = blur2d(x)
        w = ws(dv[s + "/Conv1_down/weight"], SQRT2)
        if fused(res):
            x = conv2d(x, fused_down_kernel(w), stride=2)
        else:
            x = downscale2d(conv2d(x, w))
        x = lrelu(x + b(s + "/Conv1_down/bias"))
    x = minibatch_stddev(x, 4, 1)
    x = lrelu(conv2d(x, ws(dv["4x4/Conv/weight"], SQRT2)) + b("4x4/Conv/bias"))
    x = x.reshape(x.shape[0], -1)                                           # NCHW flatten
    x = lrelu(x @ ws(dv["4x4/Dense0/weight"], SQRT2) + dv["4x4/Dense0/bias"])
    return x @ ws(dv["4x4/Dense1/weight"], 1.0) + dv["4x4/Dense1/bias"]     # [N, 1]


def ref_generator(z, vals, R, noise="zero", psi=1.0, cutoff=None):
    w = ref_mapping(z, vals["map"])
    dl = np.repeat(w[:, None, :], num_layers(R), axis=1)                   # dlatent_broadcast
    if psi != 1.0 and cutoff is not None and cutoff > 0:
        dl = ref_truncate(dl, vals["top"]["dlatent_avg"], psi, cutoff)
    return ref_synthesis(dl, vals["syn"], R, noise), dl


# --------------------------------------------------------------------------
# Independent PyTorch version for the self-check (different ops: F.conv2d,
# F.conv_transpose2d, F.interpolate, F.avg_pool2d).

def torch_generator(z, vals, R, noise="zero", psi=1.0, cutoff=None, dtype="float64"):
    import torch
    import torch.nn.functional as F
    dt = getattr(torch, dtype)
    t = lambda a: torch.from_numpy(np.asarray(a, np.float64)).to(dt)
    oihw = lambda w: w.permute(3, 2, 0, 1)                                  # HWIO -> OIHW
    mv, sv = vals["map"], vals["syn"]
    x = t(z)
    x = x * torch.rsqrt((x * x).mean(1, keepdim=True) + 1e-8)
    for i in range(MAPPING_LAYERS):
        W = t(mv["Dense%d/weight" % i])
        x = F.leaky_relu(x @ (W * (SQRT2 / np.sqrt(W.shape[0]) * 0.01)) + t(mv["Dense%d/bias" % i]) * 0.01, 0.2)
    L = num_layers(R)
    dl = x[:, None, :].expand(-1, L, -1)
    if psi != 1.0 and cutoff is not None:
        avg = t(vals["top"]["dlatent_avg"])
        c = torch.tensor([psi if i < cutoff else 1.0 for i in range(L)], dtype=dt)[None, :, None]
        dl = torch.lerp(avg.expand_as(dl), dl, c.expand_as(dl))

    def wsc(name, gain):
        W = t(sv[name])
        return W * (gain / np.sqrt(np.prod(W.shape[:-1])))

    def epi(x, layer, scope):
        if noise == "const":
            x = x + t(sv["noise%d" % layer]) * t(sv[scope + "/Noise/weight"]).view(1, -1, 1, 1)
        x = F.leaky_relu(x + t(sv[scope + "/bias"]).view(1, -1, 1, 1), 0.2)
        x = F.instance_norm(x, eps=1e-8)
        st = dl[:, layer] @ wsc(scope + "/StyleMod/weight", 1.0) + t(sv[scope + "/StyleMod/bias"])
        C = x.shape[1]
        return x * (st[:, :C, None, None] + 1) + st[:, C:, None, None]

    blur = torch.tensor(BLUR, dtype=dt)

    def tblur(x):
        C = x.shape[1]
        return F.conv2d(x, blur[None, None].expand(C, 1, 3, 3), padding=1, groups=C)

    n = z.shape[0]
    x = t(sv["4x4/Const/const"]).expand(n, -1, -1, -1)
    x = epi(x, 0, "4x4/Const")
    x = epi(F.conv2d(x, oihw(wsc("4x4/Conv/weight", SQRT2)), padding=1), 1, "4x4/Conv")
    for res in range(3, log2(R) + 1):
        s = "%dx%d" % (2 ** res, 2 ** res)
        w = wsc(s + "/Conv0_up/weight", SQRT2)
        if fused(res):
            w4 = torch.from_numpy(fused_up_kernel(w.numpy()))               # [4,4,out,in]
            y = F.conv_transpose2d(x, w4.permute(3, 2, 0, 1), stride=2, padding=1)
        else:
            y = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), oihw(w), padding=1)
        x = epi(tblur(y), res * 2 - 4, s + "/Conv0_up")
        x = epi(F.conv2d(x, oihw(wsc(s + "/Conv1/weight", SQRT2)), padding=1), res * 2 - 3, s + "/Conv1")
    img = F.conv2d(x, oihw(wsc("ToRGB_lod0/weight", 1.0))) + t(sv["ToRGB_lod0/bias"]).view(1, -1, 1, 1)
    return img.numpy()


def torch_discriminator(img, dv, R, dtype="float64"):
    import torch
    import torch.nn.functional as F
    dt = getattr(torch, dtype)
    t = lambda a: torch.from_numpy(np.asarray(a, np.float64)).to(dt)
    oihw = lambda w: w.permute(3, 2, 0, 1)

    def wsc(name, gain):
        W = t(dv[name])
        return W * (gain / np.sqrt(np.prod(W.shape[:-1])))

    bias = lambda name: t(dv[name]).view(1, -1, 1, 1)
    blur = torch.tensor(BLUR, dtype=dt)
    x = F.leaky_relu(F.conv2d(t(img), oihw(wsc("FromRGB_lod0/weight", SQRT2))) + bias("FromRGB_lod0/bias"), 0.2)
    for res in range(log2(R), 2, -1):
        s = "%dx%d" % (2 ** res, 2 ** res)
        x = F.leaky_relu(F.conv2d(x, oihw(wsc(s + "/Conv0/weight", SQRT2)), padding=1) + bias(s + "/Conv0/bias"), 0.2)
        C = x.shape[1]
        x = F.conv2d(x, blur[None, None].expand(C, 1, 3, 3), padding=1, groups=C)
        w = wsc(s + "/Conv1_down/weight", SQRT2)
        if fused(res):
            w4 = torch.from_numpy(fused_down_kernel(w.numpy()))
            x = F.conv2d(x, oihw(w4), stride=2, padding=1)
        else:
            x = F.avg_pool2d(F.conv2d(x, oihw(w), padding=1), 2)
        x = F.leaky_relu(x + bias(s + "/Conv1_down/bias"), 0.2)
    N, C, H, W = x.shape
    G = min(4, N)
    y = x.view(G, -1, 1, C, H, W)
    y = torch.sqrt(y.var(0, unbiased=False) + 1e-8).mean([2, 3, 4])          # [M, 1]
    y = y.repeat(G, 1).view(N, 1, 1, 1).expand(N, 1, H, W)
    x = torch.cat([x, y], 1)
    x = F.leaky_relu(F.conv2d(x, oihw(wsc("4x4/Conv/weight", SQRT2)), padding=1) + bias("4x4/Conv/bias"), 0.2)
    x = F.leaky_relu(x.flatten(1) @ wsc("4x4/Dense0/weight", SQRT2) + t(dv["4x4/Dense0/bias"]), 0.2)
    return (x @ wsc("4x4/Dense1/weight", 1.0) + t(dv["4x4/Dense1/bias"])).numpy()


def maxdiff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def check(label, diff, tol):
    ok = diff <= tol
    print("  %-62s max|diff| %.3e  %s" % (label, diff, "ok" if ok else "FAIL (tol %.1e)" % tol))
    if not ok:
        raise SystemExit("self-check failed: " + label)


def piece_checks():
    print("piece checks (NumPy reference vs torch):")
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        print("  torch not installed: skipped")
        return
    rng = np.random.default_rng(7)
    T = lambda a: torch.from_numpy(np.asarray(a, np.float64))
    x = rng.standard_normal((2, 5, 8, 8))
    w = rng.standard_normal((3, 3, 5, 6))
    check("conv2d 3x3 SAME (HWIO) == F.conv2d(padding=1)", maxdiff(conv2d(x, w), F.conv2d(T(x), T(w).permute(3, 2, 0, 1), padding=1).numpy()), 1e-12)
    w1 = rng.standard_normal((1, 1, 5, 3))
    check("conv2d 1x1 == F.conv2d", maxdiff(conv2d(x, w1), F.conv2d(T(x), T(w1).permute(3, 2, 0, 1)).numpy()), 1e-12)
    up = F.conv2d(F.interpolate(T(x), scale_factor=2, mode="nearest"), T(w).permute(3, 2, 0, 1), padding=1).numpy()
    upf = F.conv2d(F.interpolate(T(x), scale_factor=2, mode="nearest"), T(w[::-1, ::-1].copy()).permute(3, 2, 0, 1), padding=1).numpy()
    fu = conv2d_transpose_s2(x, fused_up_kernel(w))
    check("fused upscale2d_conv2d == nearest-up then conv3x3, kernel FLIPPED", maxdiff(fu, upf), 1e-12)
    print("  (fused upscale2d_conv2d vs nearest-up then conv3x3, same kernel: max|diff| %.3e, i.e. NOT equal)" % maxdiff(fu, up))
    check("fused upscale2d_conv2d == F.conv_transpose2d(s2, p1, 4x4)",
          maxdiff(fu, F.conv_transpose2d(T(x), T(fused_up_kernel(w)).permute(3, 2, 0, 1), stride=2, padding=1).numpy()), 1e-12)
    check("upscale2d == F.interpolate nearest", maxdiff(upscale2d(x), F.interpolate(T(x), scale_factor=2, mode="nearest").numpy()), 0)
    x16 = rng.standard_normal((2, 5, 16, 16))
    dn = F.avg_pool2d(F.conv2d(T(x16), T(w).permute(3, 2, 0, 1), padding=1), 2).numpy()
    fd = conv2d(x16, fused_down_kernel(w), stride=2)
    check("fused conv2d_downscale2d == conv3x3 then 2x2 average", maxdiff(fd, dn), 1e-12)
    check("fused conv2d_downscale2d == F.conv2d(s2, p1, 4x4)",
          maxdiff(fd, F.conv2d(T(x16), T(fused_down_kernel(w)).permute(3, 2, 0, 1), stride=2, padding=1).numpy()), 1e-12)
    check("downscale2d == F.avg_pool2d(2)", maxdiff(downscale2d(x16), F.avg_pool2d(T(x16), 2).numpy()), 1e-15)
    k = torch.tensor(BLUR)[None, None].expand(5, 1, 3, 3)
    check("blur2d [1,2,1] == depthwise F.conv2d(padding=1)", maxdiff(blur2d(x), F.conv2d(T(x), k, padding=1, groups=5).numpy()), 1e-15)
    check("instance_norm == F.instance_norm(eps=1e-8)", maxdiff(instance_norm(x), F.instance_norm(T(x), eps=1e-8).numpy()), 1e-12)
    x8 = rng.standard_normal((8, 5, 4, 4))
    y = T(x8).view(4, -1, 1, 5, 4, 4)
    y = torch.sqrt(y.var(0, unbiased=False) + 1e-8).mean([2, 3, 4]).repeat(4, 1).view(8, 1, 1, 1).expand(8, 1, 4, 4)
    check("minibatch_stddev(group 4) == torch view(G,-1,..) version (N=8)", maxdiff(minibatch_stddev(x8), torch.cat([T(x8), y], 1).numpy()), 1e-12)


# --------------------------------------------------------------------------
# Optional: run upstream's build functions under a shape-only TensorFlow stub and
# compare the variables they create with the spec_* lists above.

class _Dim(int):
    @property
    def value(self):
        return int(self)


class _Shape(list):
    @property
    def ndims(self):
        return len(self)


def _shp(v):
    return tuple(v._shape) if isinstance(v, _T) else np.shape(v)


def _bcast(*vs):
    return _T(np.broadcast_shapes(*[_shp(v) for v in vs]))


class _T:
    """A tensor that only knows its shape."""
    BATCH = 4

    def __init__(self, shape, dtype="float32"):
        self._shape = None if shape is None else [int(d) for d in shape]
        self.dtype = dtype

    @property
    def shape(self):
        return _Shape(_Dim(d) for d in self._shape)

    def set_shape(self, shape):
        self._shape = [self.BATCH if d is None else int(d) for d in shape]

    def __getitem__(self, idx):
        return _T(np.empty(self._shape, dtype=np.bool_)[idx].shape)

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = (
        lambda self, other: _bcast(self, other))


class _Recorder:
    def __init__(self):
        self.stack = []
        self.vars = collections.OrderedDict()


_RECORDERS = []


@contextlib.contextmanager
def _variable_scope(name, **_):
    _RECORDERS[-1].stack.append(name)
    try:
        yield
    finally:
        _RECORDERS[-1].stack.pop()


def _get_variable(name, shape=None, initializer=None, trainable=True, **_):
    rec = _RECORDERS[-1]
    full = "/".join(rec.stack + [name])
    shape = tuple(int(d) for d in (np.shape(initializer) if shape is None else shape))
    if full in rec.vars:
        assert rec.vars[full] == shape, full
    rec.vars[full] = shape
    return _T(shape)


def _reshape(x, shape):
    shape = [int(d) for d in shape]
    if -1 in shape:
        known = int(np.prod([d for d in shape if d != -1]))
        shape[shape.index(-1)] = int(np.prod(x._shape)) // known
    assert int(np.prod(shape)) == int(np.prod(x._shape))
    return _T(shape)


def _reduce_mean(x, axis=None, keepdims=False):
    return _T(np.empty(x._shape, dtype=np.bool_).mean(axis=None if axis is None else tuple(np.atleast_1d(axis)), keepdims=keepdims).shape)


def _conv2d(x, w, strides, padding, data_format):
    assert padding == "SAME" and data_format == "NCHW"
    s = strides[2]
    return _T([x._shape[0], w._shape[3], -(-x._shape[2] // s), -(-x._shape[3] // s)])


def _depthwise(x, f, strides, padding, data_format):
    s = strides[2]
    return _T([x._shape[0], x._shape[1], -(-x._shape[2] // s), -(-x._shape[3] // s)])


def _minmax(fn):
    def op(a, b):
        if not isinstance(a, _T) and not isinstance(b, _T):
            return fn(int(a), int(b))
        return _bcast(a, b)
    return op


def _stub_tensorflow():
    tf = types.ModuleType("tensorflow")
    tf.float32, tf.int32 = "float32", "int32"
    tf.as_dtype = lambda d: d
    tf.cast = lambda x, dtype: x
    tf.get_variable = _get_variable
    tf.variable_scope = _variable_scope
    tf.name_scope = lambda *a, **k: contextlib.nullcontext()
    tf.control_dependencies = lambda *a, **k: contextlib.nullcontext()
    tf.custom_gradient = lambda f: (lambda *a: f(*a)[0])
    tf.constant = lambda v, dtype=None, name=None: _T(np.shape(v))
    tf.initializers = types.SimpleNamespace(random_normal=lambda *a, **k: None, zeros=lambda *a, **k: None,
                                            ones=lambda *a, **k: None)
    tf.reshape = _reshape
    tf.tile = lambda x, m: _T([d * int(k) for d, k in zip(x._shape, m)])
    tf.shape = lambda x: list(x._shape)
    tf.transpose = lambda x, perm: _T([x._shape[p] for p in perm])
    tf.pad = lambda x, p, mode="CONSTANT": _T([d + int(a) + int(b) for d, (a, b) in zip(x._shape, p)])
    tf.add_n = lambda xs: _bcast(*xs)
    tf.matmul = lambda a, b: _T([a._shape[0], b._shape[1]])
    tf.maximum = _minmax(max)
    tf.minimum = _minmax(min)
    tf.where = lambda c, a, b: _bcast(c, a, b)
    tf.rsqrt = tf.sqrt = tf.square = lambda x: x
    tf.reduce_mean = _reduce_mean
    tf.concat = lambda xs, axis: _T([sum(x._shape[i] for x in xs) if i == axis else d for i, d in enumerate(xs[0]._shape)])
    tf.identity = lambda x, name=None: x
    tf.random_normal = lambda shape, dtype=None: _T(shape)
    tf.assign = lambda ref, value: None
    tf.nn = types.SimpleNamespace(conv2d=_conv2d, depthwise_conv2d=_depthwise, relu=lambda x: x,
                                  conv2d_transpose=lambda x, w, os, strides, padding, data_format: _T(os))
    return tf


class _EasyDict(dict):
    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name)

    def __setattr__(self, name, value):
        self[name] = value


class _StubNetwork:
    """Builds a network's template graph the way dnnlib.tflib.Network._init_graph does:
    required positional params become inputs, is_template_graph=True, own components."""

    def __init__(self, name=None, func_name=None, **static_kwargs):
        self.name = name
        self.static_kwargs = static_kwargs
        self.components = _EasyDict()
        params = inspect.signature(func_name).parameters.values()
        inputs = [_T(None) for p in params if p.kind == p.POSITIONAL_OR_KEYWORD and p.default is p.empty]
        _RECORDERS.append(_Recorder())
        try:
            out = func_name(*inputs, is_template_graph=True, components=self.components, **static_kwargs)
        finally:
            rec = _RECORDERS.pop()
        self.own_vars = list(rec.vars.items())
        self.input_shape = inputs[0]._shape
        self.output_shape = out._shape

    def get_output_for(self, *inputs, **_):
        return _T(self.output_shape)

    def find_var(self, name):
        return None


def upstream_source(path):
    if os.path.isfile(os.path.join(path, "training", "networks_stylegan.py")):
        with open(os.path.join(path, "training", "networks_stylegan.py"), "rb") as f:
            src = f.read()
        git = ["git", "-C", path]
    else:
        git = ["git", "--git-dir", path]
        src = subprocess.run(git + ["show", "HEAD:training/networks_stylegan.py"], check=True, capture_output=True).stdout
    try:
        commit = subprocess.run(git + ["rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        commit = "unknown"
    return src, commit


def upstream_variables(path, R):
    src, commit = upstream_source(path)
    if commit != UPSTREAM_COMMIT:
        print("  note: upstream is at %s, fixtures were written from %s" % (commit, UPSTREAM_COMMIT))
    dnnlib = types.ModuleType("dnnlib")
    tflib = types.ModuleType("dnnlib.tflib")
    dnnlib.EasyDict = _EasyDict
    dnnlib.tflib = tflib
    tflib.Network = _StubNetwork
    tflib.lerp = lambda a, b, t: _bcast(a, b, t)
    tflib.lerp_clip = lambda a, b, t: _bcast(a, b, t)
    tflib.is_tf_expression = lambda x: isinstance(x, _T)
    with tempfile.TemporaryDirectory() as tmp:
        fn = os.path.join(tmp, "upstream_networks_stylegan.py")
        with open(fn, "wb") as f:
            f.write(src)
        with patched_modules({"tensorflow": _stub_tensorflow(), "dnnlib": dnnlib, "dnnlib.tflib": tflib}):
            spec = importlib.util.spec_from_file_location("upstream_networks_stylegan", fn)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            kw = dict(num_channels=NUM_CHANNELS, resolution=R, label_size=0)
            G = _StubNetwork("G", func_name=mod.G_style, **kw, **G_ARGS)
            D = _StubNetwork("D", func_name=mod.D_basic, **kw, **D_ARGS)
    return {"G": G.own_vars, "G_synthesis": G.components["synthesis"].own_vars,
            "G_mapping": G.components["mapping"].own_vars, "D": D.own_vars,
            "components": list(G.components.keys()), "mapping_kwargs": G.components["mapping"].static_kwargs}


def check_against_upstream(path):
    print("upstream check (networks_stylegan.py executed under a shape-only TF stub):")
    for R in RESOLUTIONS:
        up = upstream_variables(path, R)
        ours = {"G": spec_g_style(), "G_synthesis": spec_g_synthesis(R), "G_mapping": spec_g_mapping(), "D": spec_d_basic(R)}
        for k, v in ours.items():
            same = [(n, tuple(s)) for n, s in v] == [(n, tuple(s)) for n, s in up[k]]
            print("  %3d px %-12s %3d variables, names/order/shapes %s" % (R, k, len(v), "match" if same else "DIFFER"))
            if not same:
                for a, b in zip(v, up[k]):
                    if tuple(a[1]) != tuple(b[1]) or a[0] != b[0]:
                        print("    ours %s   upstream %s" % (a, b))
                raise SystemExit("variable list differs from upstream")
        assert up["components"] == ["synthesis", "mapping"], up["components"]
        assert list(up["mapping_kwargs"].keys())[0] == "dlatent_broadcast"
    print("  components order: synthesis, mapping; G_mapping static_kwargs start with dlatent_broadcast")


# --------------------------------------------------------------------------

def save_npy(out, name, arr):
    path = os.path.join(out, name)
    np.save(path, np.ascontiguousarray(arr, dtype=np.float32))
    return path


def print_spec(title, spec):
    print("  %s:" % title)
    for n, s in spec:
        print("    %-28s %s" % (n, list(s)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upstream", help="git directory or work tree of NVlabs/stylegan (optional check)")
    ap.add_argument("--out", default=os.path.join("Tests", "Fixtures", "import"))
    ap.add_argument("--print-vars", action="store_true", help="print the 32 px variable lists")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    piece_checks()
    if args.upstream:
        check_against_upstream(args.upstream)
    else:
        print("upstream check skipped (no --upstream)")

    if args.print_vars:
        print("variables at 32 px:")
        print_spec("G_mapping", spec_g_mapping())
        print_spec("G_synthesis", spec_g_synthesis(32))
        print_spec("G (G_style)", spec_g_style())
        print_spec("D (D_basic)", spec_d_basic(32))

    written = []
    for R in RESOLUTIONS:
        N = BATCH[R]
        nets, vals = build_networks(R, seed=1000 + R)
        data = dump_pickle(nets, protocol=4)
        pkl = os.path.join(args.out, "nvidia-%d.pkl" % R)
        with open(pkl, "wb") as f:
            f.write(data)
        written.append(pkl)
        datas = [(pkl, data)]
        if R == 32:
            data2 = dump_pickle(nets, protocol=2)
            pkl2 = os.path.join(args.out, "nvidia-32-proto2.pkl")
            with open(pkl2, "wb") as f:
                f.write(data2)
            written.append(pkl2)
            datas.append((pkl2, data2))

        # Load back with an allow-list and compare every variable bit for bit.
        for path, d in datas:
            (G, D, Gs), seen = load_pickle(d)
            for src, dst in [(nets[0], G), (nets[1], D), (nets[2], Gs)]:
                _compare_state(src._state, dst._state)
            assert b"numpy._core" not in d
            ops = stream_summary(d)
            print("%s: %d bytes, globals %s" % (os.path.basename(path), len(d), sorted(set(seen))))
            print("  opcodes: %s" % ", ".join("%s x%d" % kv for kv in sorted(ops.items())))

        rng = np.random.default_rng(2000 + R)
        z = rng.standard_normal((N, LATENT_SIZE)).astype(np.float32)
        img_none, dl = ref_generator(z, vals, R, noise="zero")
        img_const, _ = ref_generator(z, vals, R, noise="const")
        img_trunc, dl_t = ref_generator(z, vals, R, noise="zero", psi=TRUNC_PSI, cutoff=TRUNC_CUTOFF)
        scores = ref_discriminator(img_none.astype(np.float32), vals["d"], R)

        print("%d px self-check, NumPy reference vs torch:" % R)
        try:
            import torch  # noqa: F401
            check("G images-none", maxdiff(img_none, torch_generator(z, vals, R, "zero")), 1e-9)
            check("G images-const", maxdiff(img_const, torch_generator(z, vals, R, "const")), 1e-9)
            check("G images-trunc", maxdiff(img_trunc, torch_generator(z, vals, R, "zero", TRUNC_PSI, TRUNC_CUTOFF)), 1e-9)
            check("D scores", maxdiff(scores, torch_discriminator(img_none.astype(np.float32), vals["d"], R)), 1e-9)
            print("  (information) the same torch forward in float32 vs the reference: images-none %.2e, "
                  "images-const %.2e, images-trunc %.2e, D scores %.2e" % (
                      maxdiff(img_none, torch_generator(z, vals, R, "zero", dtype="float32")),
                      maxdiff(img_const, torch_generator(z, vals, R, "const", dtype="float32")),
                      maxdiff(img_trunc, torch_generator(z, vals, R, "zero", TRUNC_PSI, TRUNC_CUTOFF, dtype="float32")),
                      maxdiff(scores, torch_discriminator(img_none.astype(np.float32), vals["d"], R, dtype="float32"))))
        except ImportError:
            print("  torch not installed: skipped")
        print("  image std none/const/trunc: %.3f %.3f %.3f; |const-none| mean %.3f; |trunc-none| mean %.3f; scores %s"
              % (img_none.std(), img_const.std(), img_trunc.std(), np.abs(img_const - img_none).mean(),
                 np.abs(img_trunc - img_none).mean(), np.round(scores.ravel(), 4).tolist()))

        written.append(save_npy(args.out, "nvidia-%d-z.npy" % R, z))
        written.append(save_npy(args.out, "nvidia-%d-dlatents.npy" % R, dl))
        written.append(save_npy(args.out, "nvidia-%d-images-none.npy" % R, img_none))
        written.append(save_npy(args.out, "nvidia-%d-images-const.npy" % R, img_const))
        written.append(save_npy(args.out, "nvidia-%d-images-trunc.npy" % R, img_trunc))
        written.append(save_npy(args.out, "nvidia-%d-d-scores.npy" % R, scores))
        if R == 32:
            both = np.concatenate([img_none, img_const]).astype(np.float32)
            s8 = ref_discriminator(both, vals["d"], R)
            try:
                import torch  # noqa: F401
                check("D scores, N=8 (two mbstd groups)", maxdiff(s8, torch_discriminator(both, vals["d"], R)), 1e-9)
            except ImportError:
                pass
            written.append(save_npy(args.out, "nvidia-32-d-scores-n8.npy", s8))

    total = sum(os.path.getsize(p) for p in written)
    print("wrote %d files, %d bytes:" % (len(written), total))
    for p in written:
        print("  %-48s %9d" % (p, os.path.getsize(p)))


def _compare_state(a, b):
    assert list(a.keys()) == list(b.keys()), (a.keys(), b.keys())
    for k in a:
        if k == "components":
            assert list(a[k].keys()) == list(b[k].keys())
            for c in a[k]:
                _compare_state(a[k][c]._state, b[k][c]._state)
        elif k == "variables":
            assert [n for n, _ in a[k]] == [n for n, _ in b[k]]
            for (n, x), (_, y) in zip(a[k], b[k]):
                assert type(x) is type(y) and x.dtype == y.dtype and np.shape(x) == np.shape(y), n
                assert np.array_equal(np.asarray(x).view(np.uint32), np.asarray(y).view(np.uint32)), n
        else:
            assert a[k] == b[k] and type(a[k]) is type(b[k]), k


if __name__ == "__main__":
    main()
