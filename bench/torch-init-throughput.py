#!/usr/bin/env python3
"""PyTorch's own in-process init throughput, the baseline of bench/lazy-stream.ts.

torch.manual_seed(0), then `layers` times: Linear(8192, 8192) (its reset_parameters: kaiming_uniform_
weight, uniform_ bias) and .to(torch.bfloat16), each layer dropped after; timed after one warm-up
layer. Prints one JSON line: bfloat16 bytes produced per second.
Run: python3 bench/torch-init-throughput.py [layers=4]
"""
import json
import os
import sys
import time

if os.environ.get("ATEN_CPU_CAPABILITY") != "avx2":
    os.environ["ATEN_CPU_CAPABILITY"] = "avx2"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import torch  # noqa: E402

layers = int(sys.argv[1]) if len(sys.argv) > 1 else 4
torch.manual_seed(0)
torch.nn.Linear(8192, 8192).to(torch.bfloat16)  # warm-up
nbytes = 0
t0 = time.perf_counter()
for _ in range(layers):
    m = torch.nn.Linear(8192, 8192).to(torch.bfloat16)
    nbytes += sum(t.numel() * t.element_size() for t in m.state_dict().values())
    del m
seconds = time.perf_counter() - t0
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "layers": layers, "seconds": seconds, "bf16_bytes_per_s": nbytes / seconds}))
