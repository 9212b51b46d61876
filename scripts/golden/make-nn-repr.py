#!/usr/bin/env python3
"""Golden print(module) output for materia, produced by real PyTorch.

Builds every case of test/fixtures/nn-cases.json that PyTorch constructs (the golden layout set,
with the same spec -> module conversion as make-nn-layouts.py) and writes
test/fixtures/nn-repr.json: [{id, spec, torch, repr}], repr being str(module), exactly what
print(module) prints without its final newline. test/nn/repr.test.ts compares
GET .../modules/{id}/repr against it.

Run (from the repo root or anywhere):
    python3 scripts/golden/make-nn-repr.py
Needs PyTorch 2.13 (pip install torch); another version stops the script, since reprs change
between releases.
"""

import importlib.util
import json
import sys
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test" / "fixtures" / "nn-repr.json"
TORCH_VERSION = torch.__version__.split("+")[0]
if not TORCH_VERSION.startswith("2.13."):
    sys.exit(f"needs torch 2.13, found {torch.__version__}")

_spec = importlib.util.spec_from_file_location("make_nn_layouts", Path(__file__).with_name("make-nn-layouts.py"))
layouts = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(layouts)


def main():
    cases = json.loads(layouts.CASES.read_text(encoding="utf-8"), parse_float=layouts.parse_float)
    records = []
    for case in cases:
        try:
            with torch.device("meta"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = layouts.build(case["spec"])
        except Exception:  # noqa: BLE001 - error cases are make-nn-layouts.py's
            continue
        if not isinstance(module, torch.nn.Module):
            continue
        records.append({"id": case["id"], "spec": case["spec"], "torch": TORCH_VERSION, "repr": str(module)})
    text = json.dumps(records, indent=2, ensure_ascii=False) + "\n"
    OUT.write_text(text, encoding="utf-8")
    print(f"torch {torch.__version__}: wrote {OUT.relative_to(ROOT)} ({len(records)} reprs, {len(text)} bytes)")


if __name__ == "__main__":
    main()
