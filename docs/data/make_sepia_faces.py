#!/usr/bin/env python3
"""Write N sepia-toned 64x64 faces: the "different set" of docs/training.md's fine-tuning recipe.

The faces come from ../shared/data/make_faces.py (the same generator as the project's training
faces, other seeds); each is then mapped through the classic sepia colour matrix, a domain shift
that a generator trained on the colour faces has to learn. Same seed and count -> the same files.

    python3 docs/data/make_sepia_faces.py OUTDIR [--count 1000] [--seed 2]
"""
import argparse, os, struct, subprocess, sys, tempfile, zlib

SEPIA = ((0.393, 0.769, 0.189), (0.349, 0.686, 0.168), (0.272, 0.534, 0.131))

def read_png(path):  # only what make_faces.py writes: 8-bit RGB, one IDAT, filter 0 on every row
    data = open(path, "rb").read()
    w, h = struct.unpack(">II", data[16:24])
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT": idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    raw = zlib.decompress(idat)
    rows = [raw[y * (3 * w + 1):(y + 1) * (3 * w + 1)] for y in range(h)]
    assert all(r[0] == 0 for r in rows), path + ": unexpected PNG filter"
    return w, h, [list(r[1:]) for r in rows]

def write_png(path, w, h, rows):
    raw = b"".join(b"\x00" + bytes(r) for r in rows)
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    with open(path + ".tmp", "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))
    os.replace(path + ".tmp", path)

def tone(row):
    out = []
    for i in range(0, len(row), 3):
        r, g, b = row[i:i + 3]
        out += [min(255, round(m[0] * r + m[1] * g + m[2] * b)) for m in SEPIA]
    return out

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir"); ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=2)
    a = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    make_faces = os.path.join(here, "..", "..", "..", "shared", "data", "make_faces.py")
    with tempfile.TemporaryDirectory() as colour:
        subprocess.check_call([sys.executable, make_faces, colour, "--count", str(a.count), "--seed", str(a.seed)])
        os.makedirs(a.outdir, exist_ok=True)
        for name in sorted(os.listdir(colour)):
            w, h, rows = read_png(os.path.join(colour, name))
            write_png(os.path.join(a.outdir, name), w, h, [tone(r) for r in rows])

if __name__ == "__main__":
    main()
