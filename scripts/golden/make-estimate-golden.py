#!/usr/bin/env python3
"""Golden memory estimates for materia's POST /v1/estimate, produced by accelerate and transformers.

For each case below this script writes test/fixtures/estimate-golden.json, which
test/nn/estimate-golden.test.ts compares against src/nn/estimate.ts without Python:

  calculator: what `accelerate estimate-memory` prints for the module, from accelerate's own
              gather_data() (accelerate/commands/estimate.py) with its create_empty_model replaced
              by the module the spec names, built in float32 on the meta device, as accelerate
              builds Hub models (it always passes torch_dtype=torch.float32). The raw numbers are
              kept: largest layer, total size, training with Adam (max of estimate_training_usage's
              values, None where it prints N/A), and calculate_maximum_sizes' layer names.
  kvCache:    the bytes of keys and values transformers' DynamicCache(config=model.config) holds
              after a prefill of batchSize x sequenceLength tokens. Two ways, both transformers' own:
              "forward": a real forward pass of the (small) model on the CPU with that cache, then the
              cache's tensors' nbytes; "cache-update": for configs too large to run (70B), each cache
              layer's update() with meta tensors of the (batch, kv_heads, tokens, head_dim) shape the
              model's attention modules produce, then the same sum. Either way the figure is what the
              cache classes keep (sliding layers keep sliding_window - 1 tokens), not a formula of ours.

Run:  python3 scripts/golden/make-estimate-golden.py
Needs: pip install torch==2.13.* transformers==5.18.0 accelerate==1.15.0
"""

import argparse
import json
import logging
import sys
import warnings
from pathlib import Path

import accelerate
import accelerate.commands.estimate as estimate
import torch
import transformers
from transformers import AutoConfig, DynamicCache

TRANSFORMERS_VERSION = "5.18.0"
ACCELERATE_VERSION = "1.15.0"
if transformers.__version__ != TRANSFORMERS_VERSION or accelerate.__version__ != ACCELERATE_VERSION:
    sys.exit(f"transformers {TRANSFORMERS_VERSION} and accelerate {ACCELERATE_VERSION} are required")

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test" / "fixtures" / "estimate-golden.json"

warnings.filterwarnings("ignore")
transformers.logging.set_verbosity_error()
logging.disable(logging.WARNING)

# public config.json values (no download: written out here)
LLAMA3_70B = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 128256, "hidden_size": 8192,
              "intermediate_size": 28672, "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8,
              "max_position_embeddings": 8192, "rope_theta": 500000.0, "rms_norm_eps": 1e-5, "tie_word_embeddings": False,
              "torch_dtype": "bfloat16", "bos_token_id": 128000, "eos_token_id": 128001}
MISTRAL_7B = {"model_type": "mistral", "architectures": ["MistralForCausalLM"], "vocab_size": 32000, "hidden_size": 4096,
              "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
              "max_position_embeddings": 32768, "sliding_window": 4096, "rope_theta": 10000.0, "torch_dtype": "bfloat16"}
GEMMA3_27B = {"model_type": "gemma3_text", "architectures": ["Gemma3ForCausalLM"], "vocab_size": 262208, "hidden_size": 5376,
              "intermediate_size": 21504, "num_hidden_layers": 62, "num_attention_heads": 32, "num_key_value_heads": 16,
              "head_dim": 128, "query_pre_attn_scalar": 168, "sliding_window": 1024, "max_position_embeddings": 131072,
              "rope_scaling": {"rope_type": "linear", "factor": 8.0}, "rope_local_base_freq": 10000.0, "rope_theta": 1000000.0,
              "torch_dtype": "bfloat16"}
MIXTRAL_8X7B = {"model_type": "mixtral", "architectures": ["MixtralForCausalLM"], "vocab_size": 32000, "hidden_size": 4096,
                "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
                "num_local_experts": 8, "num_experts_per_tok": 2, "max_position_embeddings": 32768, "rope_theta": 1000000.0,
                "torch_dtype": "bfloat16"}
BERT_BASE = {"model_type": "bert", "architectures": ["BertForMaskedLM"], "vocab_size": 30522}
T5_SMALL = {"model_type": "t5", "architectures": ["T5ForConditionalGeneration"], "vocab_size": 32128, "d_model": 512, "d_ff": 2048,
            "num_layers": 6, "num_heads": 8}
GPT2 = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}

SMALL = {"vocab_size": 96, "hidden_size": 64, "intermediate_size": 112, "num_hidden_layers": 3, "num_attention_heads": 4,
         "num_key_value_heads": 2, "max_position_embeddings": 256}


def cases():
    """(id, spec, kv) with kv None, or (batchSize, sequenceLength, "forward" | "cache-update")."""
    return [
        ("llama-3-70b", {"config": LLAMA3_70B}, (2, 8192, "cache-update")),
        ("llama-3-70b-model", {"config": {**LLAMA3_70B, "architectures": ["LlamaModel"]}}, None),
        ("mistral-7b-sliding", {"config": MISTRAL_7B}, (1, 10000, "cache-update")),
        ("gemma3-27b", {"config": GEMMA3_27B}, (1, 32768, "cache-update")),
        ("mixtral-8x7b", {"config": MIXTRAL_8X7B}, (4, 2048, "cache-update")),
        ("bert-base-masked-lm", {"config": BERT_BASE}, None),
        ("bert-base-model", {"config": {**BERT_BASE, "architectures": ["BertModel"]}}, None),
        ("t5-small", {"config": T5_SMALL}, None),
        ("gpt2", {"config": GPT2}, (2, 1024, "cache-update")),
        ("torch-linear", {"python": "torch.nn.Linear(1024, 4096)"}, None),
        ("torch-lstm", {"python": "torch.nn.LSTM(64, 128, num_layers=2, bidirectional=True)"}, None),
        # small models a forward pass runs on: the cache as a real prefill leaves it
        ("tiny-llama", {"config": {**SMALL, "model_type": "llama"}}, (2, 40, "forward")),
        ("tiny-mistral-sliding", {"config": {**SMALL, "model_type": "mistral", "sliding_window": 16}}, (2, 40, "forward")),
        ("tiny-mistral-short", {"config": {**SMALL, "model_type": "mistral", "sliding_window": 64}}, (1, 40, "forward")),
        ("tiny-qwen2-sliding", {"config": {**SMALL, "model_type": "qwen2", "use_sliding_window": True, "sliding_window": 8,
                                           "max_window_layers": 1}}, (3, 20, "forward")),
        ("tiny-gemma2", {"config": {**SMALL, "model_type": "gemma2", "head_dim": 16, "sliding_window": 12}}, (2, 30, "forward")),
        ("tiny-gemma3", {"config": {**SMALL, "model_type": "gemma3_text", "num_hidden_layers": 7, "head_dim": 16,
                                    "sliding_window": 10}}, (2, 30, "forward")),
        ("tiny-phi3", {"config": {**SMALL, "model_type": "phi3", "pad_token_id": 0}}, (1, 24, "forward")),
        ("tiny-mixtral", {"config": {**SMALL, "model_type": "mixtral", "num_local_experts": 4}}, (2, 16, "forward")),
        ("tiny-qwen3-moe", {"config": {**SMALL, "model_type": "qwen3_moe", "num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 24,
                                       "head_dim": 32}}, (2, 16, "forward")),
        ("tiny-gpt2", {"config": {"model_type": "gpt2", "vocab_size": 96, "n_embd": 64, "n_layer": 2, "n_head": 4,
                                  "n_positions": 64}}, (2, 33, "forward")),
        ("tiny-bf16-llama", {"config": {**SMALL, "model_type": "llama", "torch_dtype": "bfloat16"}}, (1, 17, "forward")),
    ]


def model_class(config, raw):
    archs = raw.get("architectures")
    return getattr(transformers, archs[0]) if archs else transformers.AutoModelForCausalLM._model_mapping[type(config)]


def build_float32_meta(spec):
    """The module in float32 on meta, as accelerate's create_empty_model builds a Hub model."""
    with torch.device("meta"):
        if "python" in spec:
            return eval(spec["python"], {"torch": torch})  # noqa: S307 - the cases above
        raw = dict(spec["config"])
        config = AutoConfig.for_model(**raw)
        return model_class(config, raw)(config)


def calculator(spec):
    model = build_float32_meta(spec)
    estimate.create_empty_model = lambda *a, **k: model
    args = argparse.Namespace(model_name="x", library_name="transformers", dtypes=["float32", "float16", "int8", "int4"],
                              trust_remote_code=False)
    rows = {}
    for dtype, largest, total, training in estimate.gather_data(args):
        usage = max(training.values())
        rows[dtype] = {"largestLayer": largest, "totalSize": total, "trainingAdam": None if usage == -1 else usage}
    _, (_, names) = accelerate.utils.calculate_maximum_sizes(model)
    rows["largestLayerNames"] = names
    return rows


def cache_bytes(cache):
    return sum(layer.keys.nbytes + layer.values.nbytes for layer in cache.layers if layer.keys is not None)


def kv_forward(spec, batch, seq):
    raw = dict(spec["config"])
    config = AutoConfig.for_model(**raw)
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config)
    model.eval()
    cache = DynamicCache(config=model.config)
    with torch.no_grad():
        model(input_ids=torch.randint(0, raw["vocab_size"], (batch, seq)), past_key_values=cache, use_cache=True)
    return cache_bytes(cache)


def kv_cache_update(spec, batch, seq):
    model = build_float32_meta(spec)
    config = model.config
    cache = DynamicCache(config=config)
    dtype = config.dtype if isinstance(config.dtype, torch.dtype) else getattr(torch, config.dtype or "float32")
    if hasattr(model, "transformer"):  # GPT-2: n_head heads of head_dim
        shapes = [(block.attn.num_heads, block.attn.head_dim) for block in model.transformer.h]
    else:
        layers = model.model.layers
        shapes = [(config.num_key_value_heads, layer.self_attn.head_dim) for layer in layers]
    for idx, (kv, head_dim) in enumerate(shapes):
        k = torch.empty(batch, kv, seq, head_dim, dtype=dtype, device="meta")
        cache.update(k, torch.empty_like(k), idx)
    return cache_bytes(cache)


def main():
    records = []
    for case_id, spec, kv in cases():
        rec = {"id": case_id, "spec": spec, "transformers": transformers.__version__, "accelerate": accelerate.__version__,
               "calculator": calculator(spec)}
        if kv is not None:
            batch, seq, how = kv
            nbytes = kv_forward(spec, batch, seq) if how == "forward" else kv_cache_update(spec, batch, seq)
            rec["kvCache"] = {"batchSize": batch, "sequenceLength": seq, "method": how, "nbytes": nbytes}
        records.append(rec)
    OUT.write_text(json.dumps(records, indent=2) + "\n")
    print(f"wrote {len(records)} cases to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
