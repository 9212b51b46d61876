#!/usr/bin/env python3
"""transformers' own meta build, the baseline of bench/hf-meta-build.ts.

`iterations` times: AutoConfig.for_model(**config), then AutoModelForCausalLM.from_config(config)
under `with torch.device("meta")` and the model's state_dict(), timed each (after one warm-up).
The config is read as JSON from stdin. Prints one JSON line: versions, parameters, tensors, ms per build.
Run: python3 bench/transformers-meta-build.py [iterations=5] < config.json
"""
import json
import logging
import sys
import time
import warnings

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM

warnings.filterwarnings("ignore")
transformers.logging.set_verbosity_error()
logging.disable(logging.WARNING)

iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 5
raw = json.load(sys.stdin)


def build():
    config = AutoConfig.for_model(**raw)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return model, model.state_dict()


build()
times = []
for _ in range(iterations):
    start = time.perf_counter()
    model, sd = build()
    times.append((time.perf_counter() - start) * 1000)
params = sum(p.numel() for p in model.parameters())
print(json.dumps({"torch": torch.__version__.split("+")[0], "transformers": transformers.__version__, "params": params,
                  "tensors": len(sd), "ms": times}))
