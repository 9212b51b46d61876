"""The client against a listening service: values equal PyTorch's own, ties load strictly, files on disk, errors."""
from __future__ import annotations

import json
import os
import tracemalloc
from typing import Any, Dict, List, Tuple

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, load_model
from torch import nn

import materia


def assert_same(got: Dict[str, torch.Tensor], want: Dict[str, torch.Tensor]) -> None:
    assert list(got) == list(want), "state_dict names and order"
    for k, v in want.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape, k
        assert torch.equal(got[k], v), f"{k}: values differ"


def test_the_client_speaks_the_services_api_version(svc: materia.Client) -> None:
    assert materia.__version__ == svc.api_version()


SEEDED: List[Tuple[Dict[str, Any], Any]] = [
    ({"class": "LSTM", "args": [6, 9], "kwargs": {"bidirectional": True}}, lambda: nn.LSTM(6, 9, bidirectional=True)),
    ({"class": "torch.nn.Conv2d", "args": [3, 8, 3], "kwargs": {"groups": 1}}, lambda: nn.Conv2d(3, 8, 3)),
    ({"class": "Sequential", "args": [{"class": "Embedding", "args": [50, 16]}, {"class": "LayerNorm", "args": [16]},
                                      {"class": "Linear", "args": [16, 4]}]},
     lambda: nn.Sequential(nn.Embedding(50, 16), nn.LayerNorm(16), nn.Linear(16, 4))),
    ({"class": "TransformerEncoderLayer", "args": [16, 2], "kwargs": {"dim_feedforward": 32}},
     lambda: nn.TransformerEncoderLayer(16, 2, dim_feedforward=32)),
]


@pytest.mark.parametrize("spec,make", SEEDED, ids=[str(c[0]["class"]) for c in SEEDED])
def test_seeded_values_equal_torchs(s: materia.Session, spec: Dict[str, Any], make: Any) -> None:
    seed = 1234
    torch.manual_seed(seed)
    want = make().state_dict()
    m = s.build(spec)
    assert [t["name"] for t in m.tensors if t["persistent"]] == list(want)
    x = m.materialize(init="default", seed=seed, device="worker")
    assert x.status == "ready"
    assert_same(x.state_dict(), want)
    first = next(iter(want))
    assert torch.equal(x.tensor(first), want[first]), "one tensor by its own route"


def test_progress_polls_the_fill_to_the_end(s: materia.Session) -> None:
    torch.manual_seed(5)
    want = nn.Linear(256, 512).state_dict()
    seen: List[Tuple[int, int]] = []
    x = s.build({"class": "Linear", "args": [256, 512]}).materialize(init="default", seed=5, progress=lambda d, t: seen.append((d, t)))
    assert x.status == "ready"
    assert seen and seen[-1][0] == seen[-1][1] > 0, "the last report is the whole fill"
    assert_same(x.state_dict(), want)
    # the tqdm bar takes the same reports
    y = s.build({"class": "Linear", "args": [8, 8]}).materialize(init="ones", progress=True)
    assert torch.equal(y.state_dict()["weight"], torch.ones(8, 8))


def test_estimate_counts_the_modules_bytes(s: materia.Session, svc: materia.Client) -> None:
    m = s.build({"class": "Linear", "args": [1000, 100]})
    est = m.estimate()
    assert est["totals"]["nbytes"] == sum(t["nbytes"] for t in m.tensors) == (1000 * 100 + 100) * 4
    assert est["byDtype"]["float16"]["nbytes"] == (1000 * 100 + 100) * 2
    assert svc.estimate({"class": "Linear", "args": [1000, 100]}) == est


TIED = {"class": "Sequential", "args": [{"class": "Embedding", "args": [10, 4]}, {"class": "Linear", "args": [4, 10], "kwargs": {"bias": False}}]}


def tied_torch(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 10, bias=False))
    m[1].weight = m[0].weight
    return m


def test_a_tied_model_loads_strictly_and_stays_tied(s: materia.Session, tmp_path: Any) -> None:
    x = s.build(TIED, ties=[["1.weight", "0.weight"]]).materialize(init="default", seed=3)
    sd = x.state_dict()
    assert list(sd) == ["0.weight", "1.weight"]
    assert sd["0.weight"].data_ptr() == sd["1.weight"].data_ptr(), "one storage, as in PyTorch"
    assert_same(sd, tied_torch(3).state_dict())

    target = tied_torch(99)
    x.load_into(target)
    assert target[1].weight is target[0].weight
    assert torch.equal(target[0].weight, sd["0.weight"])
    tied_torch(98).load_state_dict(sd, strict=True)

    # the downloaded file keeps the storage once; the alias is in __metadata__ (safetensors' save_model)
    (path,) = x.download(tmp_path / "tied.safetensors")
    loaded = load_file(path)
    assert list(loaded) == ["0.weight"]
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "1.weight"'):
        tied_torch(97).load_state_dict(loaded, strict=True)
    with safe_open(path, "pt") as f:
        aliases = {k: v for k, v in (f.metadata() or {}).items() if k != "format"}
    assert aliases == {"1.weight": "0.weight"}
    loaded.update({alias: loaded[kept] for alias, kept in aliases.items()})
    tied_torch(97).load_state_dict(loaded, strict=True)
    # safetensors' own load_model knows the module's ties and loads the file as it is
    load_model(tied_torch(96), path, strict=True)

    # a sharded index leaves the alias out (transformers re-ties after loading): strict=False, and the
    # only missing key is the alias
    spec = {"class": "Sequential", "args": [*TIED["args"], {"class": "Linear", "args": [10, 3]}]}
    y = s.build(spec, ties=[["1.weight", "0.weight"]]).materialize(init="ones")
    shard_dir = tmp_path / "tied-sharded"
    y.download(shard_dir, shards="100B")
    with open(shard_dir / "model.safetensors.index.json") as f:
        weight_map = json.load(f)["weight_map"]
    assert sorted(weight_map) == ["0.weight", "2.bias", "2.weight"]
    merged: Dict[str, torch.Tensor] = {}
    for name in set(weight_map.values()):
        merged.update(load_file(str(shard_dir / name)))
    target = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 10, bias=False), nn.Linear(10, 3))
    target[1].weight = target[0].weight
    keys = target.load_state_dict(merged, strict=False)
    assert keys.missing_keys == ["1.weight"] and keys.unexpected_keys == []
    assert torch.equal(target[1].weight, torch.ones(10, 4))


def test_load_into_checks_keys_and_shapes_like_load_state_dict(s: materia.Session) -> None:
    x = s.build({"class": "Linear", "args": [4, 3]}).materialize(init="ones")
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "0.weight", "0.bias".*\n\tUnexpected key\\(s\\) in state_dict: "weight", "bias"'):
        x.load_into(nn.Sequential(nn.Linear(4, 3)))
    with pytest.raises(RuntimeError, match="size mismatch for weight: copying a param with shape torch.Size\\(\\[3, 4\\]\\) from checkpoint, the shape in current model is torch.Size\\(\\[3, 5\\]\\)"):
        x.load_into(nn.Linear(5, 3))
    keys = x.load_into(nn.Sequential(nn.Linear(4, 3)), strict=False)
    assert keys.missing_keys == ["0.weight", "0.bias"] and keys.unexpected_keys == ["weight", "bias"]
    half = nn.Linear(4, 3).half()
    x.load_into(half)
    assert half.weight.dtype == torch.float16 and torch.equal(half.weight, torch.ones(3, 4, dtype=torch.float16)), "copied as param.copy_ does"


def test_a_sharded_download_is_what_save_pretrained_writes(s: materia.Session, tmp_path: Any) -> None:
    spec = {"class": "Sequential", "args": [{"class": "Linear", "args": [64, 64]}, {"class": "ReLU"}, {"class": "Linear", "args": [64, 64]},
                                           {"class": "BatchNorm1d", "args": [64]}]}
    x = s.build(spec).materialize(init="default", seed=11)
    sd = x.state_dict()
    files = x.download(tmp_path / "sharded", shards="17KB")
    names = sorted(os.path.basename(f) for f in files)
    assert names == ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors",
                     "model.safetensors.index.json"]
    with open(tmp_path / "sharded" / "model.safetensors.index.json") as f:
        index = json.load(f)
    merged: Dict[str, torch.Tensor] = {}
    for name in sorted(set(index["weight_map"].values())):
        part = load_file(str(tmp_path / "sharded" / name))
        assert all(index["weight_map"][k] == name for k in part)
        assert os.path.getsize(tmp_path / "sharded" / name) <= 17_000 + 8 + 1024, "a shard holds at most maxShardBytes of tensors"
        merged.update(part)
    assert_same({k: merged[k] for k in sd}, sd)
    assert sorted(merged) == sorted(sd)
    assert index["metadata"]["total_size"] == sum(t.nbytes for t in sd.values())

    one = x.save_pretrained(tmp_path / "single")
    assert [os.path.basename(f) for f in one] == ["model.safetensors"], "one shard: no index, as transformers writes"
    assert_same({k: load_file(one[0])[k] for k in sd}, sd)


def test_downloads_stream_to_disk(s: materia.Session, tmp_path: Any) -> None:
    x = s.build({"class": "Linear", "args": [2048, 4096], "kwargs": {"bias": False}}).materialize(init="ones", device="worker")
    size = 2048 * 4096 * 4
    tracemalloc.start()
    try:
        (path,) = x.download(tmp_path / "big.safetensors")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert os.path.getsize(path) > size
    assert peak < size // 4, f"download peaked at {peak} bytes of Python memory for a {size}-byte file"
    tracemalloc.start()
    try:
        sd = x.state_dict()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert torch.equal(sd["weight"], torch.ones(4096, 2048))
    assert peak < size * 5 // 4, f"state_dict peaked at {peak} bytes for {size} bytes of tensors: the file is held once"


def test_errors_carry_the_services_code_status_and_message(s: materia.Session, svc: materia.Client) -> None:
    with pytest.raises(materia.MateriaError) as e:
        s.build({"class": "Linear", "args": [5]})
    assert (e.value.code, e.value.status) == ("MATERIA_ERR_NN_ARGS", 400)
    assert e.value.message == "Linear.__init__() missing 1 required positional argument: 'out_features'"
    with svc.session() as gone:
        pass
    with pytest.raises(materia.MateriaError) as e:
        gone.refresh()
    assert (e.value.code, e.value.status) == ("MATERIA_ERR_SESSION_NOT_FOUND", 404), "the session was deleted on exit"


def test_the_api_key_goes_in_the_authorization_header(url: str, svc: materia.Client) -> None:
    if not os.environ.get("MATERIA_API_KEY"):
        pytest.skip("the service takes no API key (MATERIA_API_KEY unset)")
    assert svc.estimate({"class": "Linear", "args": [2, 2]})["totals"]["numel"] == 6
    for key in (None, "not-the-key"):
        with materia.Client(url, api_key=key) as anonymous, pytest.raises(materia.MateriaError) as e:
            anonymous.session()
        assert (e.value.code, e.value.status) == ("MATERIA_ERR_UNAUTHORIZED", 401)


def test_a_cancelled_materialization_frees_its_memory(s: materia.Session) -> None:
    m = s.build({"class": "Linear", "args": [4096, 8192], "kwargs": {"bias": False}})
    x = m.materialize(init="default", seed=0, wait=False)
    assert x.status == "pending"
    x.cancel()
    with pytest.raises(materia.MateriaError) as e:
        x.refresh()
    assert e.value.code == "MATERIA_ERR_MATERIALIZATION_NOT_FOUND"
    assert s.refresh()["residentBytes"] == 0

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        m.materialize(init="default", seed=0, progress=interrupt)
    assert s.refresh()["materializations"] == 0 and s.refresh()["residentBytes"] == 0, "Ctrl-C while waiting cancels the fill"


def test_a_lazy_model_is_iterated_tensor_by_tensor_with_torchs_values(s: materia.Session) -> None:
    seed = 99
    torch.manual_seed(seed)
    want = nn.Sequential(nn.Linear(64, 48), nn.LayerNorm(48), nn.Linear(48, 16)).state_dict()
    m = s.build("nn.Sequential(nn.Linear(64, 48), nn.LayerNorm(48), nn.Linear(48, 16))")
    x = m.materialize(init="default", seed=seed, lazy=True)
    assert x.status == "ready" and s.refresh()["residentBytes"] == 0, "a lazy materialization holds no memory"
    names = []
    for name, tensor in x.iter_state_dict():
        names.append(name)
        assert torch.equal(tensor, want[name]), name
    assert sorted(names) == sorted(want), "every tensor once (in the file's order)"


def test_a_string_spec_is_sent_as_python() -> None:
    assert materia._client.spec_body("nn.Linear(4, 8)", ties=[("a", "b")]) == {"python": "nn.Linear(4, 8)", "ties": [["a", "b"]]}
    assert materia._client.spec_body({"class": "Linear", "args": [4, 8]}) == {"class": "Linear", "args": [4, 8]}


@pytest.mark.parametrize("text,n", [("5GB", 5 * 10**9), ("5GiB", 5 * 2**30), ("500MB", 5 * 10**8), ("100kib", 102400), (123, 123), ("77", 77)])
def test_sizes_read_as_transformers_reads_them(text: Any, n: int) -> None:
    assert materia.parse_size(text) == n


def test_a_transformers_model_saves_the_directory_save_pretrained_writes(s: materia.Session, tmp_path: Any) -> None:
    import transformers

    config = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 96, "hidden_size": 32,
              "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "tie_word_embeddings": True}
    x = s.build({"config": config}).materialize(init="default", seed=7)
    files = x.save_pretrained(tmp_path / "ours")
    assert [os.path.basename(f) for f in files] == ["config.json", "generation_config.json", "model.safetensors"]

    torch.manual_seed(7)
    ref = transformers.AutoModelForCausalLM.from_config(transformers.AutoConfig.for_model(**config))
    ref.save_pretrained(tmp_path / "ref")
    assert sorted(os.listdir(tmp_path / "ref")) == sorted(os.listdir(tmp_path / "ours"))
    for name in os.listdir(tmp_path / "ref"):
        with open(tmp_path / "ref" / name, "rb") as a, open(tmp_path / "ours" / name, "rb") as b:
            assert a.read() == b.read(), f"{name}: byte for byte"
    loaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "ours")
    assert loaded.lm_head.weight is loaded.model.embed_tokens.weight, "tied again by from_pretrained"
    assert_same(loaded.state_dict(), ref.state_dict())

    sharded = x.save_pretrained(tmp_path / "sharded", max_shard_size="20KB")
    assert [os.path.basename(f) for f in sharded][:2] == ["config.json", "generation_config.json"]
    assert "model.safetensors.index.json" in [os.path.basename(f) for f in sharded]
    assert_same(transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "sharded").state_dict(), ref.state_dict())
