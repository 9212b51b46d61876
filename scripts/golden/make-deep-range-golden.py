#!/usr/bin/env python3
"""Golden bytes of ranges deep inside a seeded model, for materia's lazy materializations.

A Llama-shaped stack of torch.nn modules (embedding, decoder layers of attention and MLP
projections with RMSNorm, final norm, LM head; about 150 M parameters, so a range in the last layer
sits some 10^8 draws into torch's MT19937 stream) is built the way a model too large for memory
would have to be checked: layer by layer, each constructed in order after
`torch.manual_seed(seed)` and dropped once its ranges are recorded. The stream is the one
`torch.manual_seed(seed); Sequential(embedding, ModuleList(layers), norm, head)` draws, since a
container draws nothing of its own and Python builds its arguments in order.

For chosen byte ranges of tensors in the first and last layers and the head (starting mid-element,
inside a normal_ 16-block of the embedding, at a tensor's last bytes), in float32 and cast with
`.to(torch.bfloat16)`, it records the sha256 and the first 16 bytes (hex). The module spec (JSON,
as the API takes it) is written next to them.

Writes test/fixtures/deep-range/deep-range.json, read by test/routes/lazy-deep-range.test.ts.
Run (forces the AVX2 kernels, the contract, also on AVX-512 machines):
    python3 scripts/golden/make-deep-range-golden.py
"""

import hashlib
import json
import os
import sys
from pathlib import Path

if os.environ.get("ATEN_CPU_CAPABILITY") != "avx2":
    os.environ["ATEN_CPU_CAPABILITY"] = "avx2"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import torch  # noqa: E402

if not torch.__version__.startswith("2.13"):
    sys.exit(f"made with torch 2.13, found {torch.__version__}")

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test" / "fixtures" / "deep-range" / "deep-range.json"
SEEDS = [0, 2**40 + 7]
HIDDEN, INTER, KV, VOCAB, LAYERS = 1024, 2816, 256, 32000, 8


def linear(i, o):
    return {"class": "Linear", "args": [i, o], "kwargs": {"bias": False}}


def layer_spec():
    attn = {"q_proj": linear(HIDDEN, HIDDEN), "k_proj": linear(HIDDEN, KV), "v_proj": linear(HIDDEN, KV), "o_proj": linear(HIDDEN, HIDDEN)}
    mlp = {"gate_proj": linear(HIDDEN, INTER), "up_proj": linear(HIDDEN, INTER), "down_proj": linear(INTER, HIDDEN)}
    return {"class": "ModuleDict", "args": [{
        "self_attn": {"class": "ModuleDict", "args": [attn]},
        "mlp": {"class": "ModuleDict", "args": [mlp]},
        "input_layernorm": {"class": "RMSNorm", "args": [HIDDEN]},
        "post_attention_layernorm": {"class": "RMSNorm", "args": [HIDDEN]},
    }]}


def build(spec):
    """A JSON spec as torch.nn modules, arguments built in order (as Python evaluates a call)."""
    if isinstance(spec, dict) and "class" in spec:
        args = [build(a) for a in spec.get("args", [])]
        kwargs = {k: build(v) for k, v in spec.get("kwargs", {}).items()}
        return getattr(torch.nn, spec["class"])(*args, **kwargs)
    if isinstance(spec, dict):
        return {k: build(v) for k, v in spec.items()}
    if isinstance(spec, list):
        return [build(v) for v in spec]
    return spec


# The whole model: Sequential(embedding, ModuleList(layers), norm, head). Its parts, in
# construction order, with the state_dict prefix each part's tensors get.
PARTS = [("0.", {"class": "Embedding", "args": [VOCAB, HIDDEN]})]
PARTS += [(f"1.{i}.", layer_spec()) for i in range(LAYERS)]
PARTS += [("2.", {"class": "RMSNorm", "args": [HIDDEN]}), ("3.", linear(HIDDEN, VOCAB))]
SPEC = {"class": "Sequential", "args": [
    PARTS[0][1], {"class": "ModuleList", "args": [[s for _, s in PARTS[1:1 + LAYERS]]]}, PARTS[-2][1], PARTS[-1][1]]}

# (tensor, start, end) in elements of the tensor; start/end may be fractional to start mid-element
RANGES = [
    ("0.weight", 16 * 1000 + 5, 16 * 1000 + 300),                       # inside a normal_ 16-block
    ("1.0.self_attn.q_proj.weight", 7.5, 1000),
    (f"1.{LAYERS - 1}.self_attn.k_proj.weight", 123456.25, 123456 + 4096),
    (f"1.{LAYERS - 1}.mlp.down_proj.weight", HIDDEN * INTER // 2 + 3, HIDDEN * INTER // 2 + 70000),
    (f"1.{LAYERS - 1}.mlp.down_proj.weight", HIDDEN * INTER - 33, HIDDEN * INTER),
    ("3.weight", VOCAB * HIDDEN - 1000, VOCAB * HIDDEN),
]


def main():
    cases = []
    for seed in SEEDS:
        for dtype in ["float32", "bfloat16"]:
            torch.manual_seed(seed)
            found = []
            for prefix, spec in PARTS:
                part = build(spec)
                if dtype != "float32":
                    part = part.to(getattr(torch, dtype))
                sd = part.state_dict()
                for name, s, e in RANGES:
                    if not name.startswith(prefix) or name[len(prefix):] not in sd:
                        continue
                    t = sd[name[len(prefix):]]
                    data = t.contiguous().view(torch.uint8).numpy().tobytes()
                    size = t.element_size()
                    a, b = int(s * size), int(e * size)
                    found.append({"tensor": name, "start": a, "end": b, "sha256": hashlib.sha256(data[a:b]).hexdigest(), "head": data[a:a + 16].hex()})
                del part, sd
            assert len(found) == len(RANGES), found
            cases.append({"seed": seed, "dtype": dtype, "ranges": found})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"torch": torch.__version__, "spec": SPEC, "cases": cases}, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
