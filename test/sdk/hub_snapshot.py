"""huggingface_hub and transformers against materia's /hub, run by test/sdk/hub-python.test.ts.

argv: SESSION_ID MATERIALIZATION_ID LAZY_MATERIALIZATION_ID MOE_MATERIALIZATION_ID; env: MATERIA_URL,
HF_TOKEN (the API key). snapshot_download()s the first and the last materialization, loads each with
AutoModelForCausalLM.from_pretrained, compares every state_dict tensor with the bytes
GET /v1/.../tensors/{name} serves, and reads get_safetensors_metadata of the first two (the lazy one
is sharded and is never downloaded). Prints one JSON object for the test to check.
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
sid, mat, lazy, moe = sys.argv[1:5]
endpoint = f"{url}/hub"
api = HfApi(endpoint=endpoint)
out = {}



def load_and_compare(repo, cache):
    """snapshot_download + from_pretrained, every state_dict tensor against the served bytes."""
    path = snapshot_download(repo_id=f"{sid}/{repo}", endpoint=endpoint, cache_dir=cache)
    model = AutoModelForCausalLM.from_pretrained(path)
    compared, differ = 0, []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {os.environ['HF_TOKEN']}"}) as c:
        for name, tensor in model.state_dict().items():
            r = c.get(f"/v1/sessions/{sid}/materializations/{repo}/tensors/{name}")
            r.raise_for_status()
            compared += 1
            if tensor.contiguous().view(torch.uint8).numpy().tobytes() != r.content:
                differ.append(name)
    return path, model, compared, differ


with tempfile.TemporaryDirectory() as cache:
    path, model, out["compared"], out["differ"] = load_and_compare(mat, cache)
    out["files"] = sorted(os.listdir(path))
    # a second call finds every file in the cache under the same commit
    out["again"] = snapshot_download(repo_id=f"{sid}/{mat}", endpoint=endpoint, cache_dir=cache) == path
    out["dtype"] = str(model.dtype)
    out["tied"] = model.lm_head.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    path, _, compared, differ = load_and_compare(moe, cache)
    out["moe"] = {"files": sorted(os.listdir(path)), "compared": compared, "differ": differ}

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
