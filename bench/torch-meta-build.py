"""PyTorch baseline for bench/meta-build.ts: in-process build of a module on the meta device.

Usage: python bench/torch-meta-build.py ITERATIONS  (prints JSON {"torch": version, "ms": [...]})
"""
import json
import sys
import time

import torch

iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 50
times = []
for _ in range(iterations):
    start = time.perf_counter()
    layer = torch.nn.TransformerEncoderLayer(4096, 32, 11008, device="meta")
    model = torch.nn.TransformerEncoder(layer, 32, enable_nested_tensor=False)
    sd = model.state_dict()
    times.append((time.perf_counter() - start) * 1000)
params = sum(p.numel() for p in model.parameters())
print(json.dumps({"torch": torch.__version__.split("+")[0], "params": params, "tensors": len(sd), "ms": times}))
