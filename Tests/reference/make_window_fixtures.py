#!/usr/bin/env python3
"""Fixtures for the window ops (Sources/CKernels/window.c) from PyTorch's own functions:
max_pool2d(3, stride 2), avg_pool2d(3, stride 1, padding 1, count_include_pad=False) and
interpolate(mode="bilinear", align_corners=False, antialias=False) up and down.

    python3 Tests/reference/make_window_fixtures.py   # writes Tests/Fixtures/ops/window-*.npy
"""
import os
import numpy as np
import torch
import torch.nn.functional as F

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "ops")
torch.manual_seed(0)
x = torch.randn(2, 3, 17, 23) * 40 + 100
save = lambda name, t: np.save(os.path.join(out, "window-" + name + ".npy"), t.detach().numpy().astype(np.float32))
save("input", x)
save("maxpool", F.max_pool2d(x, 3, stride=2))
save("avgpool", F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False))
save("resize-up", F.interpolate(x, size=(41, 30), mode="bilinear", align_corners=False))
save("resize-down", F.interpolate(x, size=(7, 5), mode="bilinear", align_corners=False))
