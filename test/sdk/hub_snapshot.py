"""huggingface_hub and transformers against materia's /hub, run by test/sdk/hub-python.test.ts.

argv: SESSION_ID MATERIALIZATION_ID LAZY_MATERIALIZATION_ID; env: MATERIA_URL, HF_TOKEN (the API key).
snapshot_download()s the first materialization, loads it with AutoModelForCausalLM.from_pretrained,
compares every state_dict tensor with the bytes GET /v1/.../tensors/{name} serves, and reads
get_safetensors_metadata of both (the lazy one is sharded and is never downloaded). Prints one JSON
object for the test to check.
"""

import json
import os
import sys
import tempfile

import httpx
import torch
from huggingface_hub import HfApi, snapshot_download
from huggingface_hub.errors import HfHubHTTPError
from transformers import AutoModelForCausalLM

url = os.environ["MATERIA_URL"]
sid, mat, lazy = sys.argv[1:4]
endpoint = f"{url}/hub"
api = HfApi(endpoint=endpoint)
out = {}

with tempfile.TemporaryDirectory() as cache:
    path = snapshot_download(repo_id=f"{sid}/{mat}", endpoint=endpoint, cache_dir=cache)
    out["files"] = sorted(os.listdir(path))
    # a second call finds every file in the cache under the same commit
    out["again"] = snapshot_download(repo_id=f"{sid}/{mat}", endpoint=endpoint, cache_dir=cache) == path
    model = AutoModelForCausalLM.from_pretrained(path)
    out["dtype"] = str(model.dtype)
    out["tied"] = model.lm_head.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    compared, differ = 0, []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {os.environ['HF_TOKEN']}"}) as c:
        for name, tensor in model.state_dict().items():
            r = c.get(f"/v1/sessions/{sid}/materializations/{mat}/tensors/{name}")
            r.raise_for_status()
            compared += 1
            if tensor.contiguous().view(torch.uint8).numpy().tobytes() != r.content:
                differ.append(name)
    out["compared"], out["differ"] = compared, differ

info = api.model_info(f"{sid}/{mat}")
out["info"] = {"sha": info.sha, "siblings": sorted(s.rfilename for s in info.siblings), "safetensors": dict(info.safetensors)}
for key, repo in (("metadata", mat), ("lazyMetadata", lazy)):
    m = api.get_safetensors_metadata(f"{sid}/{repo}")
    out[key] = {"sharded": m.sharded, "files": sorted(m.files_metadata), "tensors": len(m.weight_map),
                "parameters": m.parameter_count}
try:
    HfApi(endpoint=endpoint, token="not-a-key").model_info(f"{sid}/{mat}")
    out["badToken"] = None
except HfHubHTTPError as e:
    out["badToken"] = e.response.status_code
print(json.dumps(out))
