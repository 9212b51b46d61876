"""Writes test/fixtures/torch-save/: the state dict of torch.nn.Linear(2, 2) saved by torch.save in
its two formats, the zip archive (the default since PyTorch 1.6) and the legacy pickle
(_use_new_zipfile_serialization=False). Uploads of these must be refused with a message that
names torch.save and the safetensors conversion (test/routes/checkpoint-limits.test.ts).

Usage: python3 scripts/golden/make-torch-save-fixtures.py   (a Python with torch)
"""
import pathlib

import torch

out = pathlib.Path(__file__).resolve().parents[2] / "test" / "fixtures" / "torch-save"
out.mkdir(parents=True, exist_ok=True)
torch.manual_seed(0)
state = torch.nn.Linear(2, 2).state_dict()
torch.save(state, out / "linear-zip.pt")
torch.save(state, out / "linear-legacy.pt", _use_new_zipfile_serialization=False)
for p in sorted(out.iterdir()):
    print(p.name, p.stat().st_size, p.read_bytes()[:4].hex())
print("torch", torch.__version__)
