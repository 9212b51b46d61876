#!/usr/bin/env python3
"""Golden seeded init of Hugging Face transformers models for materia, produced by transformers itself.

For every case below and the seeds in SEEDS this runs what a user runs:

    torch.manual_seed(seed)
    model = LlamaForCausalLM(LlamaConfig(**kwargs))           # class form: float32
    model = cls._from_config(AutoConfig.for_model(**config))  # {"config": ...}: what
                                                              # AutoModelForCausalLM.from_config
                                                              # does, config.dtype included
    model = model.to(dtype)                                   # only for a materialization cast

(the spec → model reading is make-transformers-layouts.py's `build`, imported from it) and records
every tensor materia lists: state_dict() in order, then the non-persistent buffers, each as
[name, dtype, shape, sha256 of its little-endian bytes, its first 4 elements as hex (the element's
bits, most significant byte first)].

Writes test/fixtures/transformers-init/transformers-init.json, read by
test/routes/transformers-init.test.ts, which materializes every case over HTTP, resident and
lazy, and compares the bytes.

Run (forces the AVX2 kernels, the contract of materia's normal_, also on AVX-512 machines):
    python3 scripts/golden/make-transformers-init.py
Needs: pip install torch==2.13.* transformers==5.18.0 (checked at run time).
"""

import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path

if os.environ.get("ATEN_CPU_CAPABILITY") != "avx2":
    os.environ["ATEN_CPU_CAPABILITY"] = "avx2"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import torch  # noqa: E402
import transformers  # noqa: E402

TRANSFORMERS_VERSION = "5.18.0"
TORCH_VERSION = "2.13"
if transformers.__version__ != TRANSFORMERS_VERSION:
    sys.exit(f"transformers {TRANSFORMERS_VERSION} is required, found {transformers.__version__}")
if not torch.__version__.startswith(TORCH_VERSION + "."):
    sys.exit(f"torch {TORCH_VERSION} is required, found {torch.__version__}")

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test" / "fixtures" / "transformers-init" / "transformers-init.json"
SEEDS = [0, 20260101]


def load_layouts_module():
    spec = importlib.util.spec_from_file_location("make_transformers_layouts",
                                                  Path(__file__).resolve().parent / "make-transformers-layouts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


layouts = load_layouts_module()
build, cls_form = layouts.build, layouts.cls_form

SMALL = {"vocab_size": 96, "hidden_size": 64, "intermediate_size": 112, "num_hidden_layers": 2, "num_attention_heads": 4}
MOE = {**SMALL, "num_hidden_layers": 3}
GPT = {"vocab_size": 96, "n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 32}


def shorthand(model_type, arch, dtype, **extra):
    return {"config": {**extra, "model_type": model_type, "architectures": [arch], "torch_dtype": dtype}}


def cases():
    out = []
    add = lambda cid, spec, dtype=None: out.append({"id": cid, "spec": spec, **({"dtype": dtype} if dtype else {})})  # noqa: E731
    # the Llama family: untied, base model, GQA + tied, padding row, biases, odd sizes
    add("llama-causal-lm", cls_form("LlamaForCausalLM", "LlamaConfig", **SMALL))
    add("llama-model-pad", cls_form("LlamaModel", "LlamaConfig", **SMALL, pad_token_id=3))
    add("llama-gqa-tied", cls_form("LlamaForCausalLM", "LlamaConfig", **SMALL, num_key_value_heads=2, tie_word_embeddings=True))
    add("llama-biases-range", cls_form("LlamaForCausalLM", "LlamaConfig", **{**SMALL, "vocab_size": 37, "intermediate_size": 50},
                                       attention_bias=True, mlp_bias=True, initializer_range=0.5, pad_token_id=36))
    add("llama-range-zero", cls_form("LlamaForCausalLM", "LlamaConfig", **{**SMALL, "num_hidden_layers": 1}, initializer_range=0.0))
    add("llama-shorthand-bf16", shorthand("llama", "LlamaForCausalLM", "bfloat16", **SMALL, pad_token_id=0))
    add("llama-cast-bf16", cls_form("LlamaForCausalLM", "LlamaConfig", **SMALL), dtype="bfloat16")
    add("mistral-causal-lm", cls_form("MistralForCausalLM", "MistralConfig", **SMALL, num_key_value_heads=2, sliding_window=16))
    add("mistral-shorthand-f16", shorthand("mistral", "MistralForCausalLM", "float16", **{**SMALL, "num_hidden_layers": 1}))
    add("qwen2-tied", cls_form("Qwen2ForCausalLM", "Qwen2Config", **SMALL, num_key_value_heads=2, tie_word_embeddings=True))
    add("qwen3-causal-lm", cls_form("Qwen3ForCausalLM", "Qwen3Config", **SMALL, head_dim=16, num_key_value_heads=1))
    add("qwen3-model-bf16", {"config": {**SMALL, "model_type": "qwen3", "architectures": ["Qwen3Model"], "dtype": "bfloat16"}})
    # mixtures of experts: fused expert tensors and routers, dense layers between sparse ones
    add("mixtral-causal-lm", cls_form("MixtralForCausalLM", "MixtralConfig", **MOE, num_local_experts=4, num_key_value_heads=2))
    add("mixtral-shorthand-bf16", shorthand("mixtral", "MixtralForCausalLM", "bfloat16", **MOE, num_local_experts=3,
                                            tie_word_embeddings=True))
    add("qwen3-moe-sparse-step", cls_form("Qwen3MoeForCausalLM", "Qwen3MoeConfig", **{**MOE, "num_hidden_layers": 4},
                                          num_experts=4, moe_intermediate_size=24, decoder_sparse_step=2, mlp_only_layers=[3]))
    # Phi3: fused qkv_proj / gate_up_proj
    add("phi3-causal-lm", cls_form("Phi3ForCausalLM", "Phi3Config", **SMALL, pad_token_id=0, num_key_value_heads=2))
    add("phi3-tied-bf16", shorthand("phi3", "Phi3ForCausalLM", "bfloat16", **SMALL, pad_token_id=5, tie_word_embeddings=True))
    # Gemma2: zero-centred RMSNorms, scaled embedding (padding row 0), tied by default
    add("gemma2-causal-lm", cls_form("Gemma2ForCausalLM", "Gemma2Config", **SMALL, num_key_value_heads=2, head_dim=16))
    add("gemma2-untied-bias", cls_form("Gemma2ForCausalLM", "Gemma2Config", **SMALL, tie_word_embeddings=False, attention_bias=True))
    add("gemma2-model-bf16", {"config": {**SMALL, "model_type": "gemma2", "architectures": ["Gemma2Model"], "torch_dtype": "bfloat16"}})
    # Gemma3 (text): Gemma2's rules, plus q/k norms and a rotary pair per layer type copied again
    g3 = {**SMALL, "num_hidden_layers": 3, "num_key_value_heads": 2, "head_dim": 16, "sliding_window_pattern": 2}
    add("gemma3-causal-lm", cls_form("Gemma3ForCausalLM", "Gemma3TextConfig", **g3))
    add("gemma3-untied-bias-rope-linear", cls_form("Gemma3ForCausalLM", "Gemma3TextConfig", **g3, tie_word_embeddings=False,
                                                   attention_bias=True, rope_scaling={"rope_type": "linear", "factor": 8.0}))
    add("gemma3-text-model-bf16", {"config": {**g3, "model_type": "gemma3_text", "architectures": ["Gemma3TextModel"], "torch_dtype": "bfloat16"}})
    # GPT-2: Conv1D drawn at construction, c_proj drawn again with initializer_range / sqrt(2 * n_layer)
    add("gpt2-lm-head", cls_form("GPT2LMHeadModel", "GPT2Config", **GPT))
    add("gpt2-model", cls_form("GPT2Model", "GPT2Config", **{**GPT, "n_layer": 3}, n_inner=80))
    add("gpt2-untied-cross-attention", cls_form("GPT2LMHeadModel", "GPT2Config", **GPT, tie_word_embeddings=False,
                                                add_cross_attention=True, initializer_range=0.1))
    add("gpt2-shorthand-bf16", {"config": {"model_type": "gpt2", "vocab_size": 96, "hidden_size": 48, "num_hidden_layers": 1,
                                           "num_attention_heads": 3, "max_position_embeddings": 16, "torch_dtype": "bfloat16"}})
    # BERT: LayerNorms with biases, the MLM head's own bias, the decoder tied to the word embeddings
    # sequence classification: score drawn by _init_weights like every Linear
    add("llama-sequence-classification", cls_form("LlamaForSequenceClassification", "LlamaConfig", **SMALL, num_labels=1))
    add("gemma3-text-sequence-classification", cls_form("Gemma3TextForSequenceClassification", "Gemma3TextConfig", **g3, num_labels=3))
    add("gpt2-sequence-classification", cls_form("GPT2ForSequenceClassification", "GPT2Config", **GPT))
    bert = {**SMALL, "max_position_embeddings": 24, "type_vocab_size": 3}
    add("bert-model", cls_form("BertModel", "BertConfig", **bert))
    add("bert-masked-lm", cls_form("BertForMaskedLM", "BertConfig", **bert, pad_token_id=5, initializer_range=0.1))
    add("bert-lm-head-untied-cross", cls_form("BertLMHeadModel", "BertConfig", **bert, is_decoder=True, add_cross_attention=True,
                                              tie_word_embeddings=False))
    add("bert-shorthand-bf16", {"config": {**bert, "model_type": "bert", "architectures": ["BertForMaskedLM"], "torch_dtype": "bfloat16"}})
    add("bert-sequence-classification", cls_form("BertForSequenceClassification", "BertConfig", **bert, num_labels=3))
    add("bert-token-classification", cls_form("BertForTokenClassification", "BertConfig", **bert, initializer_range=0.05))
    # T5: each stack is a PreTrainedModel of its own; factor-scaled normals per module, shared drawn last
    t5 = {"vocab_size": 96, "d_model": 64, "d_kv": 16, "d_ff": 112, "num_layers": 2, "num_heads": 4}
    add("t5-conditional-generation", cls_form("T5ForConditionalGeneration", "T5Config", **t5, num_decoder_layers=3))
    add("t5-untied-gated-factor", cls_form("T5ForConditionalGeneration", "T5Config", **t5, tie_word_embeddings=False,
                                           feed_forward_proj="gated-gelu", initializer_factor=0.5))
    add("t5-model-range", cls_form("T5Model", "T5Config", **t5, relative_attention_num_buckets=16, initializer_range=0.05))
    add("t5-encoder-model", cls_form("T5EncoderModel", "T5Config", **t5))
    add("t5-shorthand-bf16", {"config": {**t5, "model_type": "t5", "architectures": ["T5ForConditionalGeneration"], "torch_dtype": "bfloat16"}})
    return out


def dtype_name(d):
    return str(d).replace("torch.", "")


def raw_bytes(t):
    if t.numel() == 0:
        return b""
    return t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def entry(name, t):
    b = raw_bytes(t)
    size = t.element_size()
    first = [b[i:i + size][::-1].hex() for i in range(0, min(len(b), 4 * size), size)]
    return [name, dtype_name(t.dtype), list(t.shape), hashlib.sha256(b).hexdigest(), first]


def run(c, seed):
    torch.manual_seed(seed)
    _, model = build(c["spec"])
    if "dtype" in c:
        model = model.to(getattr(torch, c["dtype"]))
    sd = model.state_dict()
    persistent = set(sd)
    out = [entry(n, t) for n, t in sd.items()]
    out += [entry(n, b) for n, b in model.named_buffers() if n not in persistent]
    return out


def main():
    doc = {"transformers": transformers.__version__, "torch": torch.__version__, "seeds": SEEDS,
           "note": "generated by scripts/golden/make-transformers-init.py; a tensor is [name, dtype, shape, sha256, first 4 elements' bits as hex]",
           "cases": []}
    for c in cases():
        doc["cases"].append({**c, "results": {str(s): run(c, s) for s in SEEDS}})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # one line per case and seed keeps the file small and its diffs readable
    lines = ["{"]
    for k in ("transformers", "torch", "seeds", "note"):
        lines.append(f" {json.dumps(k)}: {json.dumps(doc[k])},")
    lines.append(' "cases": [')
    for i, c in enumerate(doc["cases"]):
        head = {k: v for k, v in c.items() if k != "results"}
        lines.append(f"  {{{json.dumps(head)[1:-1]}, \"results\": {{")
        for j, s in enumerate(SEEDS):
            sep = "," if j < len(SEEDS) - 1 else ""
            lines.append(f"   {json.dumps(str(s))}: {json.dumps(c['results'][str(s)])}{sep}")
        lines.append("  }}" + ("," if i < len(doc["cases"]) - 1 else ""))
    lines.append(" ]")
    lines.append("}")
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT} ({len(doc['cases'])} cases x {len(SEEDS)} seeds)")


if __name__ == "__main__":
    main()
