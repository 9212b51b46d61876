"""PyTorch baseline for bench/skip-init.ts: torch.nn.utils.skip_init of a 1 GiB Linear, in process.

Usage: python bench/torch-skip-init.py [ITERATIONS=10] [WARMUP=2]
Prints JSON {"torch": version, "nbytes": bytes of the state dict, "ms": [...]} (warm-up runs left out).
Each module is dropped before the next run, as the HTTP bench deletes each materialization.
"""
import gc
import json
import sys
import time

import torch

iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 10
warmup = int(sys.argv[2]) if len(sys.argv) > 2 else 2
times = []
nbytes = 0
for i in range(warmup + iterations):
    start = time.perf_counter()
    module = torch.nn.utils.skip_init(torch.nn.Linear, 16384, 16384, bias=False)
    elapsed = (time.perf_counter() - start) * 1000
    nbytes = sum(t.numel() * t.element_size() for t in module.state_dict().values())
    if i >= warmup:
        times.append(elapsed)
    del module
    gc.collect()
print(json.dumps({"torch": torch.__version__.split("+")[0], "nbytes": nbytes, "ms": times}))
