#!/usr/bin/env python3
"""Golden torch.nn layouts for materia, produced by real PyTorch.

Reads test/fixtures/nn-cases.json (module specs, each the body of a POST /v1/sessions/{id}/modules), builds every spec
with PyTorch on the meta device and writes test/fixtures/nn-layouts.json, which
test/nn/golden-layouts.test.ts compares against src/nn's buildModule().

Run (from the repo root or anywhere):
    python3 scripts/golden/make-nn-layouts.py
Needs PyTorch (pip install torch safetensors numpy); the version used is recorded in every
record's "torch" field. Output is deterministic: case order is kept, keys are not sorted,
2-space indentation, trailing newline.

A layout record is {id, spec, torch, tensors: [TensorInfo...]}, tensors in state_dict() order
followed by non-persistent buffers; an error record is {id, spec, torch, error: {type, message}}
with the exception's class name and str(exc), exactly as PyTorch raised it.
"""

import collections
import json
import os
import sys
import warnings
from pathlib import Path

# Some PyTorch messages format a Python set ({'zeros', 'reflect', ...}); fix the hash seed so the
# element order (and so the file) is the same on every run. The test compares sets order-free.
if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "test" / "fixtures" / "nn-cases.json"
OUT = ROOT / "test" / "fixtures" / "nn-layouts.json"
TORCH_VERSION = torch.__version__.split("+")[0]  # "2.13.0+cpu" -> "2.13.0"


class UnknownClass(LookupError):
    """Not a PyTorch error: materia answers 404 with close matches; only the prefix is golden."""


def parse_float(text):
    # JavaScript's JSON.parse cannot tell 1.0 from 1, so neither may we: integral floats are ints.
    value = float(text)
    return int(value) if value.is_integer() else value


def resolve_class(name):
    """'Linear' / 'nn.Linear' / 'torch.nn.Linear' -> torch.nn.Linear; 'torch.Tensor' etc. resolve too
    (they are not modules, and PyTorch then rejects them with its own message)."""
    if not isinstance(name, str):
        raise UnknownClass(f"Unknown module class {name!r}.")
    short = name
    for prefix in ("torch.nn.", "nn."):
        if short.startswith(prefix):
            short = short[len(prefix):]
            break
    else:
        if short.startswith("torch."):
            obj = torch
            for part in short.split(".")[1:]:
                obj = getattr(obj, part, None)
            if isinstance(obj, type):
                return obj
            raise UnknownClass(f"Unknown module class '{name}'.")
    obj = torch.nn
    for part in short.split("."):
        obj = getattr(obj, part, None)
    if isinstance(obj, type):
        return obj
    raise UnknownClass(f"Unknown module class '{name}'.")


def convert_dtype(value):
    """'float64' / 'torch.float64' -> torch.float64; anything else is passed through so that
    PyTorch itself decides what to say about it."""
    if isinstance(value, str):
        short = value[len("torch."):] if value.startswith("torch.") else value
        candidate = getattr(torch, short, None)
        if isinstance(candidate, torch.dtype):
            return candidate
    return value


def convert(value):
    """JSON value -> Python argument: nested specs become modules (or, for non-module classes,
    the class object itself, which is what a container would then be handed)."""
    if isinstance(value, dict):
        if "class" in value:
            return build(value, top=False)
        return {k: convert(v) for k, v in value.items()}
    if isinstance(value, list):
        return [convert(v) for v in value]
    return value


def apply_ties(module, ties):
    """Each tie [a, b, ...] is attribute assignment of the last tensor to the others:
    ["lm_head.weight", "embed.weight"] means module.lm_head.weight = module.embed.weight."""
    for group in ties:
        source_path, source_attr = split_name(group[-1])
        source = getattr(module.get_submodule(source_path), source_attr)
        for name in group[:-1]:
            owner_path, attr = split_name(name)
            setattr(module.get_submodule(owner_path), attr, source)


def split_name(name):
    owner, _, attr = name.rpartition(".")
    return owner, attr


def build(spec, top=True):
    cls = resolve_class(spec["class"])
    if not issubclass(cls, torch.nn.Module):
        if top:
            # what torch.nn.utils.skip_init (build without init) says about a non-module
            torch.nn.utils.skip_init(cls)
        return cls  # handed to the container as is: "<typename> is not a Module subclass"
    args = [convert(a) for a in spec.get("args", [])]
    if cls is torch.nn.Sequential and len(args) == 1 and isinstance(args[0], dict):
        # JSON has no OrderedDict: materia reads Sequential's single object argument as one
        args = [collections.OrderedDict(args[0])]
    kwargs = {}
    for key, value in spec.get("kwargs", {}).items():
        kwargs[key] = convert_dtype(value) if key == "dtype" else convert(value)
    module = cls(*args, **kwargs)
    if "ties" in spec:
        apply_ties(module, spec["ties"])
    return module


def dtype_name(dtype):
    return str(dtype).removeprefix("torch.")


def tensor_infos(module):
    state = module.state_dict(keep_vars=True)
    param_names = {n for n, _ in module.named_parameters(remove_duplicate=False)}
    buffers = list(module.named_buffers(remove_duplicate=False))
    entries = [(name, t, True) for name, t in state.items()]
    entries += [(name, t, False) for name, t in buffers if name not in state]
    first_name = {}  # id(tensor) -> first name holding that tensor object
    infos = []
    for name, t, persistent in entries:
        info = {
            "name": name,
            "kind": "parameter" if name in param_names else "buffer",
            "shape": list(t.shape),
            "dtype": dtype_name(t.dtype),
            "stride": list(t.stride()),
            "numel": t.numel(),
            "nbytes": t.numel() * t.element_size(),
            "requiresGrad": t.requires_grad,
            "persistent": persistent,
        }
        if id(t) in first_name:
            info["tiedTo"] = first_name[id(t)]
        else:
            first_name[id(t)] = name
        infos.append(info)
    return infos


def run_case(case):
    record = {"id": case["id"], "spec": case["spec"], "torch": TORCH_VERSION}
    try:
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = build(case["spec"])
            record["tensors"] = tensor_infos(module)
    except Exception as exc:  # noqa: BLE001 - every PyTorch failure is golden data
        record["error"] = {"type": type(exc).__name__, "message": str(exc)}
    return record


def main():
    cases = json.loads(CASES.read_text(encoding="utf-8"), parse_float=parse_float)
    ids = [c["id"] for c in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        sys.exit(f"duplicate case ids: {duplicates}")
    records = [run_case(c) for c in cases]
    text = json.dumps(records, indent=2, ensure_ascii=False) + "\n"
    OUT.write_text(text, encoding="utf-8")

    errors = [r for r in records if "error" in r]
    layouts = [r for r in records if "tensors" in r]
    tensors = sum(len(r["tensors"]) for r in layouts)
    classes = set()

    def collect(spec):
        if isinstance(spec, dict):
            if "class" in spec and isinstance(spec["class"], str):
                classes.add(spec["class"].removeprefix("torch.nn.").removeprefix("nn."))
            for v in spec.values():
                collect(v)
        elif isinstance(spec, list):
            for v in spec:
                collect(v)

    for r in records:
        collect(r["spec"])
    by_type = {}
    for r in errors:
        by_type[r["error"]["type"]] = by_type.get(r["error"]["type"], 0) + 1
    print(f"torch {torch.__version__}: wrote {OUT.relative_to(ROOT)} ({len(text)} bytes)")
    print(f"  {len(records)} cases: {len(layouts)} layouts ({tensors} tensors), {len(errors)} errors")
    print(f"  error types: {dict(sorted(by_type.items()))}")
    print(f"  {len(classes)} class names: {', '.join(sorted(classes))}")


if __name__ == "__main__":
    main()
