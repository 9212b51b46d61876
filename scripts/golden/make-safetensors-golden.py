#!/usr/bin/env python3
"""Golden safetensors files of materialized torch.nn modules, written by real PyTorch.

For a selection of layout cases from test/fixtures/nn-cases.json (every family: Linear, Bilinear,
Conv*, ConvTranspose*, Embedding*, norms with BatchNorm/InstanceNorm buffers, PReLU, RNN/LSTM/GRU
with proj_size, cells, MultiheadAttention with kdim/vdim and bias_kv, small Transformer*, containers,
tied weights, float16/bfloat16/float64 modules) plus a few materialization-level `dtype` casts and
init "zeros" variants, this script builds the module with PyTorch (the spec -> torch conversion of
make-nn-layouts.py, imported), fills every parameter with 1 (init "ones") or 0 (init "zeros") under
torch.no_grad(), keeps the buffers as constructed (BatchNorm running_mean 0, running_var 1,
num_batches_tracked 0), casts floating tensors with module.to(dtype) when the case has a `dtype`,
and writes the file with

    safetensors.torch.save_model(model, path, metadata={"format": "pt"})

which drops tied aliases and records them as {alias: kept} in __metadata__. For untied modules the
script checks that the bytes equal safetensors.torch.save(state_dict, metadata={"format": "pt"}).

safetensors orders __metadata__ keys randomly (a Rust HashMap, reseeded per map), so a tied case
(two or more metadata keys) is saved again until its keys come out in ascending order, the order
materia writes; every other byte of the file is deterministic.

Writes test/fixtures/safetensors-golden/:
  <id>.safetensors   one file per case
  cases.json         [{id, spec, init, dtype?, file}], spec exactly as in nn-cases.json;
                     test/materialize/safetensors-golden.test.ts materializes every case through
                     the HTTP API on both devices and compares the served bytes with the file.

Run (deterministic, re-running gives identical bytes):
    python3 scripts/golden/make-safetensors-golden.py
"""

import importlib.util
import json
import os
import struct
import sys
import warnings
from pathlib import Path

# make-nn-layouts.py re-executes itself with PYTHONHASHSEED=0 when imported without it; do it here
# first so that the import below does not restart this script halfway.
if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import safetensors  # noqa: E402
import safetensors.torch as stt  # noqa: E402
import torch  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CASES = ROOT / "test" / "fixtures" / "nn-cases.json"
LAYOUTS = ROOT / "test" / "fixtures" / "nn-layouts.json"
OUT = ROOT / "test" / "fixtures" / "safetensors-golden"
MAX_TOTAL_BYTES = 2 * 1024 * 1024


def load_layouts_module():
    spec = importlib.util.spec_from_file_location("make_nn_layouts", HERE / "make-nn-layouts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


nn_layouts = load_layouts_module()

# (nn-cases id, init, materialization dtype or None). The golden id is the nn-cases id, with
# "--zeros" and/or "--as-<dtype>" appended for the variants.
SELECTION = [
    # Linear / Bilinear, module dtypes, a zero-size weight
    ("linear", "ones", None),
    ("linear", "zeros", None),
    ("linear", "ones", "bfloat16"),
    ("linear-nobias", "ones", None),
    ("linear-float64", "ones", None),
    ("linear-torch-float16", "ones", None),
    ("linear-bfloat16", "ones", None),
    ("linear-zero-out", "ones", None),
    ("bilinear", "ones", None),
    # convolutions
    ("conv1d-groups", "ones", None),
    ("conv1d-float16", "ones", None),
    ("conv2d", "ones", None),
    ("conv2d-bfloat16", "ones", None),
    ("conv2d-bfloat16", "ones", "float32"),
    ("conv3d-float64", "ones", None),
    ("convtranspose1d-groups", "ones", None),
    ("convtranspose2d-rect", "ones", None),
    ("convtranspose2d-float16", "ones", None),
    ("convtranspose3d-groups", "ones", None),
    # embeddings
    ("embedding-padding-idx", "ones", None),
    ("embedding-float16", "ones", None),
    ("embeddingbag-float64", "ones", None),
    # norms and their buffers
    ("layernorm-list", "ones", None),
    ("layernorm-no-bias", "ones", None),
    ("groupnorm-bfloat16", "ones", None),
    ("rmsnorm", "ones", None),
    ("batchnorm1d", "ones", None),
    ("batchnorm1d", "zeros", None),
    ("batchnorm1d-no-affine", "ones", None),
    ("batchnorm2d", "ones", "float16"),
    ("batchnorm2d-float16", "ones", None),
    ("batchnorm3d-float64", "ones", None),
    ("instancenorm2d-affine-stats", "ones", None),
    ("prelu-init", "ones", None),
    # recurrent
    ("rnn-bidirectional", "ones", None),
    ("lstm-proj", "ones", None),
    ("lstm-proj", "ones", "float64"),
    ("lstm-bidirectional-proj", "ones", None),
    ("lstm-proj-nobias", "ones", None),
    ("gru-bfloat16", "ones", None),
    ("lstmcell", "ones", None),
    ("grucell-float64", "ones", None),
    # attention and transformers
    ("mha", "ones", None),
    ("mha-kdim-vdim", "ones", None),
    ("mha-kdim-vdim", "zeros", None),
    ("mha-nobias-bias-kv-kdim", "ones", None),
    ("mha-float16", "ones", None),
    ("encoderlayer", "ones", None),
    ("decoderlayer-bfloat16", "ones", None),
    ("encoder-norm", "ones", None),
    ("transformer-small", "ones", None),
    # containers
    ("sequential-empty", "ones", None),
    ("sequential-small-cnn", "ones", None),
    ("sequential-float16-mixed", "ones", None),
    ("sequential-float16-mixed", "ones", "float32"),
    ("sequential-rnn-stack", "ones", None),
    ("modulelist-kwarg", "ones", None),
    ("moduledict-kwarg-unsorted-keys", "ones", None),
    # tied weights
    ("ties-sequential", "ones", None),
    ("ties-sequential-bias-and-weight", "ones", None),
    ("ties-nested-spec", "ones", None),
    ("ties-moduledict", "ones", None),
    ("ties-moduledict-later-source", "ones", None),
    ("ties-deep-paths", "ones", None),
    ("ties-float16-embedding", "ones", None),
    ("gpt-like-tied", "ones", None),
    ("gpt-like-tied", "ones", "bfloat16"),
]


def golden_id(case_id, init, dtype):
    return case_id + ("--zeros" if init == "zeros" else "") + (f"--as-{dtype}" if dtype else "")


def build_filled(spec, init, dtype):
    """The module as materia materializes it: parameters all `init`, buffers as constructed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = nn_layouts.build(spec)
    value = {"ones": 1.0, "zeros": 0.0}[init]
    with torch.no_grad():
        for p in model.parameters():  # tied parameters are listed once
            p.fill_(value)
    if dtype is not None:
        model = model.to(getattr(torch, dtype))  # floating parameters and buffers only, ties kept
    return model


def header_of(data):
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n])


def metadata_keys_sorted(data):
    keys = list(header_of(data).get("__metadata__", {}))
    return keys == sorted(keys, key=lambda k: k.encode("utf-8"))


def save_golden(model, path):
    """save_model with metadata {"format": "pt"}, its metadata keys in ascending order."""
    for _ in range(10000):
        stt.save_model(model, str(path), metadata={"format": "pt"})
        data = path.read_bytes()
        if metadata_keys_sorted(data):
            return data
    raise RuntimeError(f"{path.name}: save_model never wrote the metadata keys in sorted order")


def check_untied(model, data, name):
    state = model.state_dict()
    if stt._remove_duplicate_names(state):
        return False
    expected = stt.save({k: v.contiguous() for k, v in state.items()}, metadata={"format": "pt"})
    if expected != data:
        raise AssertionError(f"{name}: save_model and save(state_dict) disagree for an untied module")
    return True


def check_expected_values(model, data, name, init):
    """Sanity: the file holds `init` for every parameter and the constructor values for buffers."""
    loaded = stt.load(data)
    params = {n for n, _ in model.named_parameters(remove_duplicate=False)}
    for key, tensor in loaded.items():
        if key in params:
            want = 1 if init == "ones" else 0
            if tensor.numel() and not bool((tensor == want).all()):
                raise AssertionError(f"{name}: parameter {key} is not all {want}")


def main():
    parse_float = nn_layouts.parse_float
    cases = {c["id"]: c for c in json.loads(CASES.read_text(encoding="utf-8"))}
    cases_parsed = {c["id"]: c for c in json.loads(CASES.read_text(encoding="utf-8"), parse_float=parse_float)}
    layouts = {r["id"]: r for r in json.loads(LAYOUTS.read_text(encoding="utf-8"))}

    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.safetensors"):
        old.unlink()

    records = []
    total = 0
    untied_checked = 0
    ids = set()
    for case_id, init, dtype in SELECTION:
        if case_id not in cases:
            sys.exit(f"unknown nn-cases id {case_id!r}")
        if "error" in layouts[case_id]:
            sys.exit(f"{case_id!r} is an error case in nn-layouts.json")
        gid = golden_id(case_id, init, dtype)
        if gid in ids:
            sys.exit(f"duplicate golden id {gid!r}")
        ids.add(gid)
        model = build_filled(cases_parsed[case_id]["spec"], init, dtype)
        path = OUT / f"{gid}.safetensors"
        data = save_golden(model, path)
        if check_untied(model, data, gid):
            untied_checked += 1
        check_expected_values(model, data, gid, init)
        total += len(data)
        record = {"id": gid, "spec": cases[case_id]["spec"], "init": init}
        if dtype is not None:
            record["dtype"] = dtype
        record["file"] = path.name
        records.append(record)

    if total > MAX_TOTAL_BYTES:
        sys.exit(f"golden files take {total} bytes, more than {MAX_TOTAL_BYTES}: pick smaller cases")
    text = json.dumps(records, indent=2, ensure_ascii=False) + "\n"
    (OUT / "cases.json").write_text(text, encoding="utf-8")
    tied = len(records) - untied_checked
    print(f"torch {torch.__version__}, safetensors {safetensors.__version__}: wrote {len(records)} files "
          f"({total} bytes) + cases.json to {OUT.relative_to(ROOT)}")
    print(f"  {untied_checked} untied (save_model == save(state_dict) checked), {tied} with tied weights")


if __name__ == "__main__":
    main()
