#!/usr/bin/env python3
"""SeFa directions of weights/faces64.safetensors computed with NumPy (genforce/sefa's recipe:
the style affines' weights as columns, each scaled to unit norm, eigenvectors of A A^T by
eigenvalue from the largest), for the Swift test. Reads safetensors by hand (numpy only).

    python3 Tests/reference/make_sefa_fixture.py   # writes Tests/Fixtures/ops/sefa-faces64-*.npy
"""
import json, os, struct
import numpy as np

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
raw = open(os.path.join(root, "weights", "faces64.safetensors"), "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
def tensor(name):
    e = header[name]
    a, b = e["data_offsets"]
    assert e["dtype"] == "F32"
    return np.frombuffer(raw[8 + n + a:8 + n + b], dtype="<f4").reshape(e["shape"])

layers = sorted(int(k.split("layer")[1].split(".")[0]) for k in header if k.startswith("G_ema.synthesis.layer") and k.endswith(".style.weight"))
out = os.path.join(root, "Tests", "Fixtures", "ops")
for name, chosen in [("all", layers), ("0-3", [0, 1, 2, 3])]:
    a = np.concatenate([tensor("G_ema.synthesis.layer%d.style.weight" % l).astype(np.float64).T for l in chosen], axis=1)
    a = a / np.linalg.norm(a, axis=0, keepdims=True)
    values, vectors = np.linalg.eigh(a @ a.T)
    order = np.argsort(values)[::-1]
    np.save(os.path.join(out, "sefa-faces64-%s-vectors.npy" % name), vectors[:, order[:8]].T.astype(np.float32))
    np.save(os.path.join(out, "sefa-faces64-%s-eigenvalues.npy" % name), values[order].astype(np.float32))
    print(name, values[order][:4])
