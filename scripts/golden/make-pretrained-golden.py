#!/usr/bin/env python3
"""Golden save_pretrained directories for materia, written by transformers itself.

For every case below: torch.manual_seed(0), build the model (the spec forms of
make-transformers-layouts.py), then model.save_pretrained(dir) at the default max_shard_size and,
for cases with maxShardSize, save_pretrained(dir, max_shard_size=maxShardSize) too. Writes
test/fixtures/pretrained/cases.json and, per case, <id>.safetensors (the default save's
model.safetensors, which test/routes/pretrained.test.ts uploads as the materialization's
checkpoint before comparing every file the service writes with these). A model that saves its
tensors under other names than its state_dict's (a mixture of experts, split per expert) also gets
<id>.state_dict.safetensors, its state_dict as save_file writes it, named in the record's `upload`.

A record is {id, spec, directories: [{maxShardSize, files: {name: {size, sha256}}, json: {name: text}}]}:
maxShardSize null is save_pretrained's default ("50GB" in transformers 5.18); `json` holds the
JSON files verbatim (config.json, generation_config.json, model.safetensors.index.json).

Run:  python3 scripts/golden/make-pretrained-golden.py
Needs: pip install torch==2.13.* transformers==5.18.0 safetensors
"""

import hashlib
import importlib.util
import json
import logging
import os
import sys
import tempfile
import warnings
from pathlib import Path

import torch
import transformers
from safetensors import safe_open
from safetensors.torch import save_file

TRANSFORMERS_VERSION = "5.18.0"
if transformers.__version__ != TRANSFORMERS_VERSION:
    sys.exit(f"transformers {TRANSFORMERS_VERSION} is required, found {transformers.__version__}")

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("layouts", Path(__file__).with_name("make-transformers-layouts.py"))
LAYOUTS = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(LAYOUTS)
OUT = ROOT / "test" / "fixtures" / "pretrained"

warnings.filterwarnings("ignore")
transformers.logging.set_verbosity_error()
logging.disable(logging.WARNING)

# tiny sizes: each case's weights file is a few kilobytes and is committed
TINY = {"vocab_size": 32, "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 4,
        "max_position_embeddings": 64}


def cls_form(model, config, **kwargs):
    return {"class": f"transformers.{model}", "args": [{"class": f"transformers.{config}", "kwargs": kwargs}]}


def cases():
    return [
        ("llama-untied", cls_form("LlamaForCausalLM", "LlamaConfig", **TINY, num_key_value_heads=2), [1500]),
        ("llama-tied", cls_form("LlamaForCausalLM", "LlamaConfig", **TINY, tie_word_embeddings=True), [2500]),
        ("llama-model", cls_form("LlamaModel", "LlamaConfig", **TINY, rms_norm_eps=1e-5), []),
        ("llama-shorthand-bf16", {"config": {**TINY, "model_type": "llama", "architectures": ["LlamaForCausalLM"],
                                             "torch_dtype": "bfloat16", "rope_theta": 500000.0, "unknown_key": [1, 2.5],
                                             "rope_scaling": {"rope_type": "linear", "factor": 2.0}}}, []),
        ("mistral-sliding-window", cls_form("MistralForCausalLM", "MistralConfig", **TINY, sliding_window=16,
                                            attention_dropout=0.1), []),
        ("qwen2-causal-lm", cls_form("Qwen2ForCausalLM", "Qwen2Config", **TINY, num_key_value_heads=2), []),
        ("qwen3-tied", cls_form("Qwen3ForCausalLM", "Qwen3Config", **TINY, head_dim=4, tie_word_embeddings=True), []),
        ("gemma2-causal-lm", cls_form("Gemma2ForCausalLM", "Gemma2Config", **TINY, num_key_value_heads=2, head_dim=4), []),
        ("phi3-causal-lm", cls_form("Phi3ForCausalLM", "Phi3Config", **TINY, pad_token_id=0, num_key_value_heads=2), []),
        ("gpt2-lm-head", cls_form("GPT2LMHeadModel", "GPT2Config", n_embd=16, n_layer=2, n_head=4, vocab_size=32,
                                  n_positions=16, bos_token_id=0, eos_token_id=0), [1200]),
        # BERT: the decoder's weight and bias tied (both left out); a classifier with its labels in config.json
        ("bert-masked-lm", cls_form("BertForMaskedLM", "BertConfig", **TINY), []),
        ("bert-sequence-classification", cls_form("BertForSequenceClassification", "BertConfig", **TINY, num_labels=3), []),
        ("llama-sequence-classification", cls_form("LlamaForSequenceClassification", "LlamaConfig", **TINY, num_labels=1), []),
        ("gpt2-sequence-classification", cls_form("GPT2ForSequenceClassification", "GPT2Config", n_embd=16, n_layer=2, n_head=4,
                                                  vocab_size=32, n_positions=16), []),
        # mixtures of experts: save_pretrained writes the fused experts per expert, in dot_natural_key order
        # (11 layers, so layers.10 sorts after layers.9)
        ("mixtral-11-layers", cls_form("MixtralForCausalLM", "MixtralConfig", **{**TINY, "num_hidden_layers": 11},
                                       num_local_experts=3, num_key_value_heads=2), [3000]),
        ("qwen3-moe-dense-layer", cls_form("Qwen3MoeForCausalLM", "Qwen3MoeConfig", **TINY, num_experts=3,
                                           moe_intermediate_size=8, head_dim=4, mlp_only_layers=[1]), [2000]),
    ]


def build(spec):
    """The model of a spec, built as make-transformers-layouts.py builds it."""
    return LAYOUTS.build(spec)[1]


def directory(model, max_shard_size):
    with tempfile.TemporaryDirectory() as d:
        if max_shard_size is None:
            model.save_pretrained(d)
        else:
            model.save_pretrained(d, max_shard_size=max_shard_size)
        files, texts = {}, {}
        for name in sorted(os.listdir(d)):
            data = Path(d, name).read_bytes()
            files[name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            if name.endswith(".json"):
                texts[name] = data.decode("utf-8")
        weights = Path(d, "model.safetensors").read_bytes() if "model.safetensors" in files else None
        return {"maxShardSize": max_shard_size, "files": files, "json": texts}, weights


def safe_open_keys(path):
    with safe_open(str(path), "pt") as f:
        return list(f.keys())


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    records = []
    for case_id, spec, shard_sizes in cases():
        torch.manual_seed(0)
        model = build(spec)
        default, weights = directory(model, None)
        (OUT / f"{case_id}.safetensors").write_bytes(weights)
        dirs = [default] + [directory(model, n)[0] for n in shard_sizes]
        record = {"id": case_id, "spec": spec, "directories": dirs}
        names = set(safe_open_keys(OUT / f"{case_id}.safetensors"))
        if not names <= set(model.state_dict()):
            # saved under other names than the state_dict's (experts split): upload the state_dict itself
            record["upload"] = f"{case_id}.state_dict.safetensors"
            save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(OUT / record["upload"]))
        records.append(record)
    (OUT / "cases.json").write_text(json.dumps({"transformers": transformers.__version__, "torch": torch.__version__.split("+")[0],
                                               "cases": records}, indent=2) + "\n")
    print(f"wrote {len(records)} cases to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
