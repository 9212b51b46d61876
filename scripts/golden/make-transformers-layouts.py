#!/usr/bin/env python3
"""Golden Hugging Face transformers layouts for materia, produced by transformers itself.

Builds every case below with transformers (the version pinned in TRANSFORMERS_VERSION; the script
refuses another) and writes test/fixtures/transformers-layouts.json, which
test/nn/transformers-layouts.test.ts compares against src/nn's buildModule() without Python.

A case's spec is the body of a POST /v1/sessions/{id}/modules, in one of two forms:
  {"class": "transformers.LlamaForCausalLM", "args": [{"class": "transformers.LlamaConfig", "kwargs": {...}}]}
      -> transformers.LlamaForCausalLM(transformers.LlamaConfig(**kwargs))
  {"config": {...config.json...}}
      -> AutoConfig.for_model(**config), then the class named by architectures[0] (else the
         AutoModelForCausalLM class of its model_type) built with _from_config, the call
         AutoModelForCausalLM.from_config makes (config.dtype sets the default dtype).

A record is {id, spec, transformers, torch, tensors, buffers, config} or {id, spec, transformers,
torch, error: {type, message}}:
  tensors: TensorInfo rows in state_dict() order, then the non-persistent buffers; a name sharing
           storage with an earlier one has tiedTo (the earlier name), as materia reports ties;
  buffers: every non-persistent buffer's values, little-endian bytes as hex;
  config:  config.to_dict() after construction (defaults filled in, unknown keys kept).
Models are built on the CPU (the configs are small) so buffers have their constructor values.

Run:  python3 scripts/golden/make-transformers-layouts.py
Needs: pip install torch==2.13.* transformers==5.18.0
"""

import json
import logging
import sys
import warnings
from pathlib import Path

import torch
import transformers
from transformers import AutoConfig
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

TRANSFORMERS_VERSION = "5.18.0"
if transformers.__version__ != TRANSFORMERS_VERSION:
    sys.exit(f"transformers {TRANSFORMERS_VERSION} is required, found {transformers.__version__}")

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test" / "fixtures" / "transformers-layouts.json"
FIELDS_OUT = ROOT / "test" / "fixtures" / "transformers-config-fields.json"
CONFIG_CLASSES = ["BertConfig", "Gemma2Config", "Gemma3TextConfig", "GPT2Config", "LlamaConfig", "MistralConfig", "MixtralConfig",
                  "Phi3Config", "Qwen2Config", "Qwen3Config", "Qwen3MoeConfig", "T5Config"]
TORCH_VERSION = torch.__version__.split("+")[0]

warnings.filterwarnings("ignore")
transformers.logging.set_verbosity_error()
logging.disable(logging.WARNING)

# small sizes, so every case builds on the CPU in a moment
SMALL = {"vocab_size": 96, "hidden_size": 64, "intermediate_size": 112, "num_hidden_layers": 2,
         "num_attention_heads": 4}


def cls_form(model, config, **kwargs):
    return {"class": f"transformers.{model}", "args": [{"class": f"transformers.{config}", "kwargs": kwargs}]}


def cases():
    out = []
    add = lambda case_id, spec: out.append((case_id, spec))  # noqa: E731
    families = [("Llama", "llama"), ("Mistral", "mistral"), ("Qwen2", "qwen2"), ("Qwen3", "qwen3")]
    for fam, mt in families:
        add(f"{mt}-causal-lm", cls_form(f"{fam}ForCausalLM", f"{fam}Config", **SMALL))
        add(f"{mt}-model", cls_form(f"{fam}Model", f"{fam}Config", **SMALL))
        add(f"{mt}-gqa-tied", cls_form(f"{fam}ForCausalLM", f"{fam}Config", **SMALL, num_key_value_heads=2,
                                        tie_word_embeddings=True))
        add(f"{mt}-untied", cls_form(f"{fam}ForCausalLM", f"{fam}Config", **SMALL, num_key_value_heads=1,
                                     tie_word_embeddings=False))
        add(f"{mt}-head-dim", cls_form(f"{fam}ForCausalLM", f"{fam}Config", **SMALL, head_dim=32, num_key_value_heads=2))
        add(f"{mt}-shorthand-bf16", {"config": {**SMALL, "model_type": mt, "architectures": [f"{fam}ForCausalLM"],
                                                "torch_dtype": "bfloat16", "rope_theta": 500000.0,
                                                "unknown_key": [1, 2]}})
    # Llama knobs: biases, rope scaling variants, dtype, shorthand without architectures
    add("llama-biases", cls_form("LlamaForCausalLM", "LlamaConfig", **SMALL, attention_bias=True, mlp_bias=True))
    add("llama-pad-token", cls_form("LlamaModel", "LlamaConfig", **SMALL, pad_token_id=0))
    add("llama-rope-linear", cls_form("LlamaForCausalLM", "LlamaConfig", **SMALL,
                                      rope_scaling={"type": "linear", "factor": 4.0}))
    add("llama-rope-dynamic", cls_form("LlamaForCausalLM", "LlamaConfig", **SMALL, max_position_embeddings=4096,
                                       rope_parameters={"rope_type": "dynamic", "factor": 2.0, "rope_theta": 10000.0}))
    add("llama-rope-llama3", cls_form("LlamaForCausalLM", "LlamaConfig", **{**SMALL, "hidden_size": 512, "num_attention_heads": 4},
                                      max_position_embeddings=131072,
                                      rope_parameters={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                       "high_freq_factor": 4.0, "original_max_position_embeddings": 8192,
                                                       "rope_theta": 500000.0}))
    add("llama-rope-yarn", cls_form("LlamaForCausalLM", "LlamaConfig", **{**SMALL, "hidden_size": 512, "num_attention_heads": 4},
                                    max_position_embeddings=32768,
                                    rope_parameters={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 8192,
                                                     "rope_theta": 1000000.0}))
    add("llama-rope-theta-odd", cls_form("LlamaModel", "LlamaConfig", **{**SMALL, "hidden_size": 768, "num_attention_heads": 6},
                                         rope_theta=123456.789))
    add("llama-shorthand-no-arch", {"config": {**SMALL, "model_type": "llama", "dtype": "float16"}})
    add("llama-shorthand-model", {"config": {**SMALL, "model_type": "llama", "architectures": ["LlamaModel"]}})
    add("llama-class-form-ignores-dtype", cls_form("LlamaForCausalLM", "LlamaConfig", **SMALL, dtype="bfloat16"))
    add("mistral-sliding-window", cls_form("MistralForCausalLM", "MistralConfig", **SMALL, sliding_window=16))
    add("qwen2-sliding-window", cls_form("Qwen2ForCausalLM", "Qwen2Config", **SMALL, use_sliding_window=True,
                                         sliding_window=32, max_window_layers=1))
    add("qwen3-attention-bias", cls_form("Qwen3ForCausalLM", "Qwen3Config", **SMALL, attention_bias=True))
    # mixtures of experts: transformers 5 fuses each layer's experts into gate_up_proj and down_proj
    moe = {**SMALL, "num_hidden_layers": 3}
    add("mixtral-causal-lm", cls_form("MixtralForCausalLM", "MixtralConfig", **moe, num_local_experts=4, num_key_value_heads=2))
    add("mixtral-model", cls_form("MixtralModel", "MixtralConfig", **moe))
    add("mixtral-shorthand-bf16", {"config": {**moe, "model_type": "mixtral", "architectures": ["MixtralForCausalLM"],
                                              "torch_dtype": "bfloat16", "tie_word_embeddings": True, "rope_theta": 1000000.0}})
    add("qwen3-moe-causal-lm", cls_form("Qwen3MoeForCausalLM", "Qwen3MoeConfig", **moe, num_experts=6, moe_intermediate_size=24,
                                        num_key_value_heads=2))
    add("qwen3-moe-sparse-step", cls_form("Qwen3MoeForCausalLM", "Qwen3MoeConfig", **{**moe, "num_hidden_layers": 5},
                                          num_experts=4, moe_intermediate_size=24, decoder_sparse_step=2, mlp_only_layers=[3]))
    add("qwen3-moe-head-dim-key", {"config": {**moe, "model_type": "qwen3_moe", "num_experts": 4, "moe_intermediate_size": 24,
                                              "head_dim": 32, "torch_dtype": "float16"}})
    add("err-qwen3-moe-step-zero", cls_form("Qwen3MoeModel", "Qwen3MoeConfig", **moe, num_experts=2, decoder_sparse_step=0))
    # Phi3: fused qkv_proj and gate_up_proj, partial rotary, LongRoPE (pad_token_id defaults to 32000)
    add("phi3-pad-beyond-vocab", cls_form("Phi3Model", "Phi3Config", **SMALL))
    phi = {**SMALL, "pad_token_id": 0}
    add("phi3-causal-lm", cls_form("Phi3ForCausalLM", "Phi3Config", **phi, num_key_value_heads=2))
    add("phi3-model", cls_form("Phi3Model", "Phi3Config", **phi))
    add("phi3-partial-rotary", cls_form("Phi3ForCausalLM", "Phi3Config", **phi, partial_rotary_factor=0.75,
                                        tie_word_embeddings=True))
    add("phi3-longrope", {"config": {**phi, "model_type": "phi3", "architectures": ["Phi3ForCausalLM"], "torch_dtype": "bfloat16",
                                     "max_position_embeddings": 131072, "original_max_position_embeddings": 4096,
                                     "rope_theta": 10000.0,
                                     "rope_scaling": {"type": "longrope", "short_factor": [1.0 + i / 10 for i in range(8)],
                                                      "long_factor": [1.5 + i for i in range(8)]}}})
    add("err-phi3-short-factor-length", cls_form("Phi3Model", "Phi3Config", **SMALL,
                                                 rope_parameters={"rope_type": "longrope", "short_factor": [1.0],
                                                                  "long_factor": [1.0] * 8}))
    add("err-phi3-rope-type", cls_form("Phi3Model", "Phi3Config", **SMALL, rope_parameters={"rope_type": "linear", "factor": 2.0}))
    # Gemma2: scaled embedding with a 0-d embed_scale buffer, four norms a layer, tied by default
    add("gemma2-causal-lm", cls_form("Gemma2ForCausalLM", "Gemma2Config", **SMALL, num_key_value_heads=2, head_dim=16))
    add("gemma2-model", cls_form("Gemma2Model", "Gemma2Config", **SMALL))
    add("gemma2-untied-bias", cls_form("Gemma2ForCausalLM", "Gemma2Config", **SMALL, tie_word_embeddings=False, attention_bias=True))
    add("gemma2-shorthand-bf16", {"config": {**{**SMALL, "hidden_size": 96}, "model_type": "gemma2",
                                             "architectures": ["Gemma2ForCausalLM"], "torch_dtype": "bfloat16"}})
    add("err-gemma2-heads-divide", cls_form("Gemma2Model", "Gemma2Config", **{**SMALL, "hidden_size": 66}))
    # GPT-2: Conv1D weights (in, out), learned positions, lm_head tied to transformer.wte by default
    gpt = {"vocab_size": 96, "n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 32}
    add("gpt2-lm-head", cls_form("GPT2LMHeadModel", "GPT2Config", **gpt))
    add("gpt2-model", cls_form("GPT2Model", "GPT2Config", **gpt, n_inner=80))
    add("gpt2-untied-cross-attention", cls_form("GPT2LMHeadModel", "GPT2Config", **gpt, tie_word_embeddings=False,
                                                add_cross_attention=True))
    add("gpt2-attribute-map", {"config": {"model_type": "gpt2", "vocab_size": 96, "hidden_size": 48, "num_hidden_layers": 1,
                                          "num_attention_heads": 3, "max_position_embeddings": 16, "torch_dtype": "float16"}})
    add("err-gpt2-heads", cls_form("GPT2Model", "GPT2Config", **{**gpt, "n_embd": 66}))
    add("err-gpt2-hidden-size-type", cls_form("GPT2Model", "GPT2Config", hidden_size="x"))
    # Gemma3 (text): q/k norms, one rotary pair of buffers per layer type (local and global bases)
    g3 = {**SMALL, "num_hidden_layers": 7, "num_key_value_heads": 2, "head_dim": 32}
    add("gemma3-causal-lm", cls_form("Gemma3ForCausalLM", "Gemma3TextConfig", **g3))
    add("gemma3-text-model", cls_form("Gemma3TextModel", "Gemma3TextConfig", **g3, rope_local_base_freq=20000.0, rope_theta=500000.0))
    add("gemma3-rope-linear", cls_form("Gemma3ForCausalLM", "Gemma3TextConfig", **g3, tie_word_embeddings=False, attention_bias=True,
                                       rope_scaling={"rope_type": "linear", "factor": 8.0}))
    add("gemma3-sliding-pattern", cls_form("Gemma3TextModel", "Gemma3TextConfig", **g3, sliding_window_pattern=3,
                                           use_bidirectional_attention=True, sliding_window=512))
    add("gemma3-all-sliding", cls_form("Gemma3TextModel", "Gemma3TextConfig", **{**g3, "num_hidden_layers": 2},
                                       layer_types=["sliding_attention", "sliding_attention"]))
    add("gemma3-rope-parameters", cls_form("Gemma3TextModel", "Gemma3TextConfig", **g3, rope_parameters={
        "full_attention": {"rope_type": "linear", "factor": 4.0, "rope_theta": 1000000.0},
        "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}))
    add("gemma3-shorthand-bf16", {"config": {**g3, "model_type": "gemma3_text", "architectures": ["Gemma3ForCausalLM"],
                                             "torch_dtype": "bfloat16", "rope_scaling": {"rope_type": "linear", "factor": 8.0},
                                             "rope_local_base_freq": 10000.0, "rope_theta": 1000000.0}})
    add("gemma3-shorthand-no-arch", {"config": {**g3, "model_type": "gemma3_text"}})
    add("err-gemma3-heads-divide", cls_form("Gemma3TextModel", "Gemma3TextConfig", **{**g3, "hidden_size": 66}))
    add("err-gemma3-rope-missing-factor", cls_form("Gemma3TextModel", "Gemma3TextConfig", **g3,
                                                   rope_scaling={"rope_type": "linear"}))
    # BERT: learned positions and token types, int64 position_ids / token_type_ids buffers, pooler
    # sequence classification: the bare model and score (num_labels, hidden) without bias
    add("llama-sequence-classification", cls_form("LlamaForSequenceClassification", "LlamaConfig", **SMALL, num_labels=1))
    add("mixtral-sequence-classification", cls_form("MixtralForSequenceClassification", "MixtralConfig", **moe, num_local_experts=4))
    add("gemma3-text-sequence-classification", cls_form("Gemma3TextForSequenceClassification", "Gemma3TextConfig", **g3, num_labels=3))
    add("gpt2-sequence-classification", cls_form("GPT2ForSequenceClassification", "GPT2Config", **gpt, num_labels=4))
    add("qwen2-shorthand-sequence-classification", {"config": {**SMALL, "model_type": "qwen2", "architectures": ["Qwen2ForSequenceClassification"],
                                                               "id2label": {"0": "bad", "1": "good"}}})
    bert = {"vocab_size": 96, "hidden_size": 64, "intermediate_size": 112, "num_hidden_layers": 2, "num_attention_heads": 4,
            "max_position_embeddings": 40}
    add("bert-model", cls_form("BertModel", "BertConfig", **bert))
    add("bert-type-vocab", cls_form("BertModel", "BertConfig", **bert, type_vocab_size=1, pad_token_id=None))
    add("bert-decoder-cross-attention", cls_form("BertModel", "BertConfig", **bert, is_decoder=True, add_cross_attention=True))
    add("bert-masked-lm", cls_form("BertForMaskedLM", "BertConfig", **bert))
    add("bert-lm-head-untied", cls_form("BertLMHeadModel", "BertConfig", **bert, is_decoder=True, tie_word_embeddings=False))
    add("bert-shorthand-fp16", {"config": {**bert, "model_type": "bert", "architectures": ["BertForMaskedLM"],
                                           "torch_dtype": "float16", "position_embedding_type": "absolute"}})
    add("bert-shorthand-model", {"config": {**bert, "model_type": "bert", "architectures": ["BertModel"]}})
    add("bert-shorthand-no-arch", {"config": {**bert, "model_type": "bert"}})
    add("bert-sequence-classification", cls_form("BertForSequenceClassification", "BertConfig", **bert, num_labels=3))
    add("bert-token-classification", cls_form("BertForTokenClassification", "BertConfig", **bert, classifier_dropout=0.2, num_labels=5))
    add("bert-shorthand-sequence-classification-labels", {"config": {**bert, "model_type": "bert",
                                                                     "architectures": ["BertForSequenceClassification"],
                                                                     "id2label": {"0": "NEG", "1": "NEU", "2": "POS", "3": "MIX"}}})
    add("err-bert-heads-divide", cls_form("BertModel", "BertConfig", **{**bert, "hidden_size": 66}))
    add("err-bert-dropout-type", cls_form("BertModel", "BertConfig", hidden_dropout_prob="x"))
    # T5: shared embedding tied into both stacks and lm_head, relative attention bias on block 0 only
    t5 = {"vocab_size": 96, "d_model": 64, "d_kv": 16, "d_ff": 112, "num_layers": 2, "num_heads": 4}
    add("t5-conditional-generation", cls_form("T5ForConditionalGeneration", "T5Config", **t5))
    add("t5-model-decoder-layers", cls_form("T5Model", "T5Config", **t5, num_decoder_layers=3, relative_attention_num_buckets=16))
    add("t5-encoder-model", cls_form("T5EncoderModel", "T5Config", **t5))
    add("t5-gated-untied", cls_form("T5ForConditionalGeneration", "T5Config", **t5, feed_forward_proj="gated-gelu",
                                    tie_word_embeddings=False))
    add("t5-shorthand-bf16", {"config": {**t5, "model_type": "t5", "architectures": ["T5ForConditionalGeneration"],
                                         "torch_dtype": "bfloat16", "n_positions": 512, "hidden_size": 64}})
    add("t5-attribute-map", {"config": {"model_type": "t5", "architectures": ["T5EncoderModel"], "vocab_size": 96,
                                        "hidden_size": 48, "num_hidden_layers": 1, "num_attention_heads": 3, "d_kv": 16}})
    add("err-t5-feed-forward", cls_form("T5Model", "T5Config", **t5, feed_forward_proj="gated-gelu-x"))
    # inv_freq over the bases and head sizes of public checkpoints (and odd ones): whole 32-float
    # steps go through PyTorch's vectorized pow, the rest through libm's
    for theta in [10000.0, 500000.0, 1000000.0, 5000000.0, 75000.0, 123456.789]:
        for head_dim in [64, 80, 96, 128, 160, 256]:
            add(f"rope-theta-{theta:g}-head-{head_dim}", cls_form("LlamaModel", "LlamaConfig", vocab_size=8, hidden_size=256,
                                                               intermediate_size=8, num_hidden_layers=0, num_attention_heads=4,
                                                               head_dim=head_dim, rope_theta=theta))
    # transformers' own refusals
    add("err-hidden-size-type", cls_form("LlamaForCausalLM", "LlamaConfig", hidden_size="x"))
    add("err-hidden-size-bool", cls_form("LlamaForCausalLM", "LlamaConfig", hidden_size=True))
    add("err-vocab-float", cls_form("LlamaForCausalLM", "LlamaConfig", vocab_size=1.5))
    add("err-heads-divide", cls_form("LlamaForCausalLM", "LlamaConfig", hidden_size=65, num_attention_heads=4))
    add("err-initializer-range", cls_form("LlamaForCausalLM", "LlamaConfig", initializer_range=2.0))
    add("err-tie-type", cls_form("Qwen2ForCausalLM", "Qwen2Config", tie_word_embeddings="yes"))
    add("err-rope-missing-factor", cls_form("LlamaForCausalLM", "LlamaConfig", rope_parameters={"rope_type": "linear"}))
    add("mistral-heads-not-dividing", cls_form("MistralModel", "MistralConfig", **{**SMALL, "hidden_size": 66}))
    add("err-shorthand-model-type", {"config": {"model_type": "not-a-model"}})
    return out


def dtype_name(d):
    return str(d).replace("torch.", "")


def build(spec):
    if "config" in spec:
        raw = dict(spec["config"])
        config = AutoConfig.for_model(**raw)
        archs = raw.get("architectures")
        cls = getattr(transformers, archs[0]) if archs else MODEL_FOR_CAUSAL_LM_MAPPING[type(config)]
        return config, cls._from_config(config)
    cfg = spec["args"][0]
    config = getattr(transformers, cfg["class"].split(".", 1)[1])(**cfg.get("kwargs", {}))
    return config, getattr(transformers, spec["class"].split(".", 1)[1])(config)


def contiguous_stride(shape):
    stride, acc = [], 1
    for d in reversed(shape):
        stride.append(acc)
        acc *= d
    return list(reversed(stride))


def record(case_id, spec):
    rec = {"id": case_id, "spec": spec, "transformers": transformers.__version__, "torch": TORCH_VERSION}
    try:
        config, model = build(spec)
    except Exception as e:  # noqa: BLE001 - the exception is the golden answer
        rec["error"] = {"type": type(e).__name__, "message": str(e)}
        return rec
    sd = model.state_dict(keep_vars=True)
    params = {id(p) for p in model.parameters()}
    first_of = {}
    tensors = []

    def info(name, t, persistent):
        row = {"name": name, "kind": "parameter" if id(t) in params else "buffer", "shape": list(t.shape),
               "dtype": dtype_name(t.dtype), "stride": contiguous_stride(list(t.shape)), "numel": t.numel(),
               "nbytes": t.numel() * t.element_size(), "requiresGrad": bool(t.requires_grad), "persistent": persistent}
        key = t.untyped_storage().data_ptr()
        if key in first_of:
            row["tiedTo"] = first_of[key]
        else:
            first_of[key] = name
        return row

    for name, t in sd.items():
        tensors.append(info(name, t, True))
    buffers = {}
    for name, b in model.named_buffers(remove_duplicate=False):
        if name in sd:
            continue
        tensors.append(info(name, b, False))
        buffers[name] = b.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes().hex()
    rec["tensors"] = tensors
    rec["buffers"] = buffers
    rec["config"] = json.loads(config.to_json_string(use_diff=False))
    return rec


def config_fields():
    """Each config class's dataclass fields in order, with their defaults (what GET /v1/modules lists)."""
    import dataclasses
    out = {}
    for name in CONFIG_CLASSES:
        fields = dataclasses.fields(getattr(transformers, name))
        out[name] = [[f.name, None if f.default is dataclasses.MISSING else f.default] for f in fields]
    return out


def main():
    FIELDS_OUT.write_text(json.dumps(config_fields(), indent=2) + "\n")
    records = [record(case_id, spec) for case_id, spec in cases()]
    OUT.write_text(json.dumps(records, indent=2) + "\n")
    print(f"wrote {len(records)} cases to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
