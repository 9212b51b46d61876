#!/usr/bin/env python3
"""Golden data for checkpoint uploads with ?strict=false, written by real PyTorch.

For each case the script builds a source module (torch.manual_seed(1000)), takes its state_dict
without the `drop` keys, adds uniform noise to every floating tensor (no loaded value may equal an
init constant), casts floating tensors to `cast` when given (load_state_dict casts them back) and
adds the `extra` keys, and writes that as the uploaded file
(safetensors.torch.save_file). It then does what a user's code would:

    torch.manual_seed(seed); m = X(*args, **kwargs)
    result = m.load_state_dict(partial, strict=False)
    safetensors.torch.save_model(m, expected_path, metadata={"format": "pt"})

so the missing keys hold the module's own seeded init and the rest the file's values. materia's
`POST …/materializations?strict=false&seed=<seed>` with the file as body must serve exactly the
expected file, and report result.missing_keys / result.unexpected_keys.

Writes test/fixtures/partial-checkpoint/: <id>.input.safetensors, <id>.expected.safetensors and
cases.json [{id, spec, seed, input, expected, missingKeys, unexpectedKeys}].

Run with PyTorch 2.x (AVX2 kernels are forced, as for the other init golden data):
    python3 scripts/golden/make-partial-checkpoint-golden.py
"""

import json
import os
import runpy
import sys
import warnings
from pathlib import Path

if os.environ.get("ATEN_CPU_CAPABILITY") != "avx2" or os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["ATEN_CPU_CAPABILITY"] = "avx2"
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import safetensors.torch as stt  # noqa: E402
import torch  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT = HERE.parents[1] / "test" / "fixtures" / "partial-checkpoint"


# spec -> torch module, the reading of make-nn-layouts.py (run as a library, not as __main__)
build = runpy.run_path(str(HERE / "make-nn-layouts.py"), run_name="make_nn_layouts")["build"]

LSTM_REVERSE = [f"{k}_l{layer}_reverse" for layer in range(2) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]

CASES = [
    # a new head: the last Linear and one BatchNorm buffer missing, a key the module does not have
    {"id": "mlp-new-head", "seed": 3,
     "spec": {"class": "Sequential", "args": [{"class": "Linear", "args": [6, 9]}, {"class": "BatchNorm1d", "args": [9]},
                                              {"class": "Linear", "args": [9, 4]}]},
     "drop": ["2.weight", "2.bias", "1.running_var"], "extra": {"head.weight": [4, 9]}},
    # MultiheadAttention draws out_proj first: the stream order must hold with in_proj missing
    {"id": "encoderlayer-partial", "seed": 7,
     "spec": {"class": "TransformerEncoderLayer", "args": [8, 2, 16]},
     "drop": ["self_attn.in_proj_weight", "linear2.weight", "linear2.bias", "norm2.weight"], "extra": {}},
    # Embedding's padding_idx row is zeroed after its draw
    {"id": "embedding-padding-missing", "seed": 12345,
     "spec": {"class": "Sequential", "args": [{"class": "Embedding", "args": [10, 4], "kwargs": {"padding_idx": 1}},
                                              {"class": "Linear", "args": [4, 4]}]},
     "drop": ["0.weight"], "extra": {}},
    # the reverse direction of a 2-layer bidirectional LSTM
    {"id": "lstm-reverse-missing", "seed": 2**40 + 7,
     "spec": {"class": "LSTM", "args": [3, 5], "kwargs": {"num_layers": 2, "bidirectional": True}},
     "drop": LSTM_REVERSE, "extra": {}},
    # deep-copied encoder layers share their draws: a missing key in the second layer keeps the value
    # the first layer was drawn with, although the first layer's copy comes from the file
    {"id": "encoder-copies-missing", "seed": 1,
     "spec": {"class": "TransformerEncoder", "args": [{"class": "TransformerEncoderLayer", "args": [8, 2, 16]}, 2],
              "kwargs": {"enable_nested_tensor": False}},
     "drop": ["layers.1.linear1.weight", "layers.1.self_attn.in_proj_weight", "layers.0.norm2.bias"], "extra": {}},
    # a file in another floating dtype: load_state_dict's param.copy_() casts (float32 -> bfloat16 and back,
    # float64 -> float16 through float32); nothing missing, so strict loading accepts these too
    {"id": "mlp-bfloat16-file", "seed": 3, "cast": "bfloat16",
     "spec": {"class": "Sequential", "args": [{"class": "Linear", "args": [6, 9]}, {"class": "BatchNorm1d", "args": [9]},
                                              {"class": "Linear", "args": [9, 4]}]},
     "drop": [], "extra": {}},
    {"id": "linear-float64-file-into-float16", "seed": 5, "cast": "float64",
     "spec": {"class": "Linear", "args": [7, 5], "kwargs": {"dtype": "torch.float16"}},
     "drop": [], "extra": {}},
    {"id": "linear-float16-file-missing-bias", "seed": 6, "cast": "float16",
     "spec": {"class": "Linear", "args": [7, 5]},
     "drop": ["bias"], "extra": {}},
    # nothing in the file but an unexpected key: the whole module from its seed
    {"id": "linear-all-missing", "seed": 0,
     "spec": {"class": "Linear", "args": [5, 3]},
     "drop": ["weight", "bias"], "extra": {"other": [2]}},
]


def main():
    warnings.simplefilter("ignore")
    cap = torch.backends.cpu.get_cpu_capability()
    if cap != "AVX2":
        sys.exit(f"torch CPU capability is {cap}; the golden values are for the AVX2 kernels")
    OUT.mkdir(parents=True, exist_ok=True)
    out = []
    for case in CASES:
        torch.manual_seed(1000)
        source = build(case["spec"])
        gen = torch.Generator().manual_seed(99)
        # noise on every floating tensor, so that no loaded value equals an init constant (norm ones, zero biases)
        partial = {k: (v.detach() + torch.rand(v.shape, generator=gen).to(v.dtype) if v.is_floating_point() else v.detach().clone()).contiguous()
                   for k, v in source.state_dict().items() if k not in case["drop"]}
        if "cast" in case:
            partial = {k: v.to(getattr(torch, case["cast"])) if v.is_floating_point() else v for k, v in partial.items()}
        for name, shape in case["extra"].items():
            partial[name] = torch.rand(shape, generator=gen)
        missing = [k for k in case["drop"] if k not in source.state_dict()]
        if missing:
            sys.exit(f"{case['id']}: drop names {missing} are not in the state_dict")
        input_name = f"{case['id']}.input.safetensors"
        stt.save_file(partial, str(OUT / input_name), metadata={"format": "pt"})
        torch.manual_seed(case["seed"])
        model = build(case["spec"])
        result = model.load_state_dict(partial, strict=False)
        expected_name = f"{case['id']}.expected.safetensors"
        stt.save_model(model, str(OUT / expected_name), metadata={"format": "pt"})
        out.append({"id": case["id"], "spec": case["spec"], "seed": case["seed"], "input": input_name, "expected": expected_name,
                    "missingKeys": list(result.missing_keys), "unexpectedKeys": list(result.unexpected_keys)})
    doc = {"torch": torch.__version__, "capability": cap, "cases": out}
    (OUT / "cases.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(out)} cases to {OUT}")


if __name__ == "__main__":
    main()
