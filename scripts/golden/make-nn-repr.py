#!/usr/bin/env python3
"""Golden print(module) output for materia, produced by real PyTorch.

Builds every case of test/fixtures/nn-cases.json that PyTorch constructs (the golden layout set,
with the same spec -> module conversion as make-nn-layouts.py), then the PYTHON_CASES below (specs
written as Python, evaluated here by Python itself, so that every catalog class and each branch of
its extra_repr is covered), and writes test/fixtures/nn-repr.json: [{id, spec, torch, repr}], repr
being str(module), exactly what print(module) prints without its final newline.
test/nn/repr.test.ts compares GET .../modules/{id}/repr against it.

Run (from the repo root or anywhere):
    python3 scripts/golden/make-nn-repr.py
Needs PyTorch 2.13 (pip install torch); another version stops the script, since reprs change
between releases.
"""

import collections
import importlib.util
import json
import sys
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test" / "fixtures" / "nn-repr.json"
TORCH_VERSION = torch.__version__.split("+")[0]
if not TORCH_VERSION.startswith("2.13."):
    sys.exit(f"needs torch 2.13, found {torch.__version__}")

_spec = importlib.util.spec_from_file_location("make_nn_layouts", Path(__file__).with_name("make-nn-layouts.py"))
layouts = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(layouts)


# Written as materia's {"python": ...} specs. Its parser reads them into JSON, where 1.0 is 1 and a tuple is a
# list, so an argument a module stores as given is written here as a list and never as an integral float
# (where a module normalizes, as Conv2d's kernel_size, tuples are fine).
PYTHON_CASES = [
    "nn.CrossMapLRN2d(3)", "nn.CrossMapLRN2d(3, alpha=0.5, beta=0.25, k=2.5)", "nn.LocalResponseNorm(2, k=3)",
    "nn.SyncBatchNorm(4, momentum=None, affine=False)", "nn.SyncBatchNorm(4, eps=0.001, track_running_stats=False, bias=False)",
    "nn.ReLU6()", "nn.ReLU6(inplace=True)", "nn.RReLU()", "nn.RReLU(0.1, 0.3, inplace=True)",
    "nn.Hardtanh()", "nn.Hardtanh(-2, 2)", "nn.Hardtanh(min_value=-0.5, max_value=0.5, inplace=True)",
    "nn.ELU()", "nn.ELU(alpha=0.5, inplace=True)", "nn.CELU(0.25)", "nn.SELU(inplace=True)", "nn.GLU()", "nn.GLU(dim=1)",
    "nn.SiLU(inplace=True)", "nn.Mish()", "nn.Hardswish()", "nn.Hardsigmoid(inplace=True)", "nn.Softsign()",
    "nn.Softplus()", "nn.Softplus(beta=2, threshold=10.5)", "nn.Softmax()", "nn.Softmin(dim=0)", "nn.Softmax2d()",
    "nn.Tanhshrink()", "nn.Threshold(0.1, 20)", "nn.Threshold(-1e-5, 0.5, inplace=True)", "nn.Hardshrink()",
    "nn.Softshrink(0.25)", "nn.LogSigmoid()", "nn.LeakyReLU()", "nn.LeakyReLU(0.2, inplace=True)",
    "nn.Dropout1d()", "nn.Dropout3d(0.3, inplace=True)", "nn.FeatureAlphaDropout(p=0.75)", "nn.AlphaDropout(0.125)",
    "nn.MaxPool1d(3, stride=2, padding=1, dilation=2, ceil_mode=True)", "nn.MaxPool3d([1, 2, 3])", "nn.MaxPool2d([2, 3], [1, 2])",
    "nn.AvgPool1d(3, 2, 1)", "nn.AvgPool2d([2, 3], stride=1)", "nn.AvgPool3d(2, padding=1, ceil_mode=True)",
    "nn.AdaptiveAvgPool1d(5)", "nn.AdaptiveAvgPool3d([None, 2, 3])", "nn.AdaptiveMaxPool2d([4, None], return_indices=True)",
    "nn.AdaptiveMaxPool3d(2)", "nn.LPPool1d(2, 3)", "nn.LPPool2d(1.5, [2, 2], stride=1)", "nn.LPPool3d(3, 2, ceil_mode=True)",
    "nn.FractionalMaxPool2d(2, output_ratio=0.5)", "nn.FractionalMaxPool3d(2, output_size=(4, 4, 4))",
    "nn.MaxUnpool1d(2)", "nn.MaxUnpool2d((2, 3), stride=1, padding=1)", "nn.MaxUnpool3d(2, 2)",
    "nn.ZeroPad1d(2)", "nn.ZeroPad2d((1, 2, 3, 4))", "nn.ZeroPad3d(1)", "nn.ConstantPad1d(2, 3.5)",
    "nn.ConstantPad2d((1, 0, 2, 0), -1)", "nn.ConstantPad3d(1, 0.5)", "nn.ReflectionPad2d(2)", "nn.ReflectionPad3d((1, 1, 2, 2, 0, 0))",
    "nn.ReplicationPad1d((3, 1))", "nn.ReplicationPad2d(1)", "nn.ReplicationPad3d(2)", "nn.CircularPad1d(1)", "nn.CircularPad2d((1, 2, 0, 1))",
    "nn.CircularPad3d(1)", "nn.Module()", "nn.Flatten(0, 2)", "nn.Unflatten(1, [2, 5])",
    "nn.Upsample(scale_factor=2)", "nn.Upsample(scale_factor=(1.5, 2), mode='bilinear', align_corners=True)", "nn.Upsample(size=[4, 5])",
    "nn.UpsamplingNearest2d(scale_factor=3)", "nn.UpsamplingBilinear2d(size=8)", "nn.PixelUnshuffle(2)", "nn.ChannelShuffle(3)",
    "nn.CosineSimilarity()", "nn.PairwiseDistance(p=1.5, keepdim=True)", "nn.Fold([4, 5], 2)", "nn.Fold(output_size=4, kernel_size=[2, 2], dilation=1, padding=1, stride=2)",
    "nn.Unfold(3)", "nn.Unfold([2, 3], dilation=2, padding=[1, 0], stride=[2, 1])",
    "nn.Conv2d(4, 8, 3, stride=2, padding=1, dilation=2, groups=2, bias=False, padding_mode='reflect')", "nn.Conv1d(2, 4, 3, padding='same')",
    "nn.Conv3d(1, 1, (1, 2, 3), padding=(0, 1, 0))", "nn.ConvTranspose2d(4, 8, 3, stride=2, output_padding=1, groups=4, dilation=1)",
    "nn.Embedding(10, 3, padding_idx=-1, max_norm=2, norm_type=1, scale_grad_by_freq=True)", "nn.EmbeddingBag(10, 3, padding_idx=-2, norm_type=3, scale_grad_by_freq=True, mode='sum')",
    "nn.RNN(4, 8, 2, nonlinearity='relu', bias=False, batch_first=True, dropout=0.25, bidirectional=True)",
    "nn.LSTM(4, 8, proj_size=2, dropout=1)", "nn.GRU(3, 5, num_layers=3, batch_first=True)",
    "nn.RNNCell(3, 4, nonlinearity='relu')", "nn.RNNCell(3, 4, bias=False)", "nn.LSTMCell(3, 4, bias=False)", "nn.GRUCell(2, 2, False)",
    "nn.Bilinear(2, 3, 4, bias=False)", "nn.Linear(3, 4, dtype=torch.float16)", "nn.Identity(54, unused='x')",
    "nn.LayerNorm(8, elementwise_affine=False)", "nn.GroupNorm(2, 4, affine=False)", "nn.RMSNorm([2, 3], eps=1e-3)",
    "nn.InstanceNorm1d(4, momentum=None)", "nn.BatchNorm1d(4, momentum=0.5, affine=False, track_running_stats=False)",
    "nn.GELU('tanh')", "nn.PReLU(4, init=0.5)", "nn.Softmax(dim=-1)", "nn.LogSoftmax(1)",
    "nn.Sequential(OrderedDict([('fc', nn.Linear(2, 2)), ('act', nn.Tanh())]))",
    "nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.Tanh(), nn.Tanh(), nn.Tanh(), nn.ReLU()])", "nn.ModuleList()",
    "nn.ModuleList([nn.Sequential(nn.Linear(2, 2), nn.ReLU()), nn.Sequential(nn.Linear(2, 2), nn.ReLU()), nn.ModuleList([nn.ReLU(), nn.ReLU()])])",
    "nn.ModuleDict({'a': nn.ModuleList([nn.Linear(1, 1), nn.Linear(1, 1)]), 'b': nn.Sequential()})",
    "nn.MultiheadAttention(8, 2, kdim=4, vdim=6, batch_first=True)",
    "nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, 0.5, batch_first=True), 2, norm=nn.LayerNorm(8))",
]

NAMESPACE = {"nn": torch.nn, "torch": torch, "OrderedDict": collections.OrderedDict, "collections": collections}


def main():
    cases = json.loads(layouts.CASES.read_text(encoding="utf-8"), parse_float=layouts.parse_float)
    records = []
    for case in cases:
        try:
            with torch.device("meta"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = layouts.build(case["spec"])
        except Exception:  # noqa: BLE001 - error cases are make-nn-layouts.py's
            continue
        if not isinstance(module, torch.nn.Module):
            continue
        records.append({"id": case["id"], "spec": case["spec"], "torch": TORCH_VERSION, "repr": str(module)})
    for source in PYTHON_CASES:
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = eval(source, dict(NAMESPACE))  # noqa: S307 - the sources are the literals above
        records.append({"id": f"python: {source}", "spec": {"python": source}, "torch": TORCH_VERSION, "repr": str(module)})
    text = json.dumps(records, indent=2, ensure_ascii=False) + "\n"
    OUT.write_text(text, encoding="utf-8")
    print(f"torch {torch.__version__}: wrote {OUT.relative_to(ROOT)} ({len(records)} reprs, {len(text)} bytes)")


if __name__ == "__main__":
    main()
