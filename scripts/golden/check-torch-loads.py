#!/usr/bin/env python3
"""Dev-time check (CI does not run it): do the safetensors files a running materia serves load into
real PyTorch modules?

Starts nothing itself. Start the service first, then point this script at it:

    npm run build && PORT=18080 npm start            # in another terminal
    python3 scripts/golden/check-torch-loads.py http://127.0.0.1:18080

Options: --device cpu|worker|both (default both), --api-key KEY (or MATERIA_API_KEY; sent as
`Authorization: Bearer KEY` when the service has MATERIA_API_KEYS set), --only SUBSTRING (cases whose
id contains it), --keep DIR (keep the downloaded files there).

For every case of test/fixtures/safetensors-golden/cases.json (written by
make-safetensors-golden.py) and every device, the script creates a session, posts the module spec,
materializes it with the case's init ("ones"; "zeros" for the three --zeros variants) and dtype,
downloads /safetensors, and then checks with PyTorch + safetensors:

  golden     the bytes equal the golden file (same check as test/materialize/safetensors-golden.test.ts)
  load_model safetensors.torch.load_model(fresh_model, path, strict=True) succeeds
  state_dict fresh_model.load_state_dict(load_file(path) + the tied aliases of __metadata__,
             strict=True) succeeds (the file omits tied aliases, as save_model does; the
             {alias: kept} entries in __metadata__ put them back)
  values     after each load, the module's state_dict equals the expected one exactly: dtypes, and
             every value (parameters all ones/zeros, buffers as constructed, e.g. running_var 1),
             and every file tensor had the module's dtype (load_state_dict would silently convert)

A "fresh model" is the spec built by PyTorch on CPU with its default random init, then cast with
module.to(dtype) when the case has a materialization dtype. Prints a pass/fail table and exits 1 when
any check fails (2 when the service cannot be reached).
"""

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request
import warnings
from pathlib import Path

# make-nn-layouts.py (imported through make-safetensors-golden.py) re-executes with PYTHONHASHSEED=0
if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import safetensors.torch as stt  # noqa: E402
from safetensors import safe_open  # noqa: E402
import torch  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
GOLDEN = ROOT / "test" / "fixtures" / "safetensors-golden"


def load_golden_module():
    spec = importlib.util.spec_from_file_location("make_safetensors_golden", HERE / "make-safetensors-golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


golden = load_golden_module()


class Service:
    def __init__(self, base, api_key):
        self.base = base.rstrip("/")
        self.headers = {"authorization": f"Bearer {api_key}"} if api_key else {}

    def request(self, method, path, body=None):
        data = None
        headers = dict(self.headers)
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["content-type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=120) as res:
                return res.status, res.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def json(self, method, path, body=None, expect=(200, 201)):
        status, raw = self.request(method, path, body)
        if status not in expect:
            raise RuntimeError(f"{method} {path}: {status} {raw[:300].decode('utf-8', 'replace')}")
        return json.loads(raw) if raw else None


def fresh_model(case):
    spec = json.loads(json.dumps(case["spec"]), parse_float=golden.nn_layouts.parse_float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's construction notes (zero-element init, nested tensors)
        model = golden.nn_layouts.build(spec)
    if case.get("dtype"):
        model = model.to(getattr(torch, case["dtype"]))
    return model


def expected_state(case):
    spec = json.loads(json.dumps(case["spec"]), parse_float=golden.nn_layouts.parse_float)
    return golden.build_filled(spec, case["init"], case.get("dtype")).state_dict()  # warnings silenced there


def compare_state(model, expected):
    got = model.state_dict()
    if list(got) != list(expected):
        return f"keys differ: {sorted(set(got) ^ set(expected))}"
    for key, want in expected.items():
        have = got[key]
        if have.dtype != want.dtype or have.shape != want.shape:
            return f"{key}: {have.dtype} {tuple(have.shape)} != {want.dtype} {tuple(want.shape)}"
        if not torch.equal(have, want):
            return f"{key}: values differ"
    return None


def check_file_dtypes(model, tensors):
    mine = model.state_dict()
    for key, t in tensors.items():
        if key in mine and mine[key].dtype != t.dtype:
            return f"{key}: file has {t.dtype}, module has {mine[key].dtype}"
    return None


def with_aliases(path):
    """load_file plus every tied alias __metadata__ records as {alias: kept}."""
    tensors = stt.load_file(path)
    with safe_open(path, framework="pt") as f:
        metadata = f.metadata() or {}
    for alias, kept in metadata.items():
        if alias != "format" and alias not in tensors and kept in tensors:
            tensors[alias] = tensors[kept]
    return tensors


def check_case(service, case, device, workdir):
    """Returns {column: "ok" | failure text}."""
    result = {}
    sid = service.json("POST", "/v1/sessions", {})["id"]
    try:
        mid = service.json("POST", f"/v1/sessions/{sid}/modules", case["spec"])["id"]
        body = {"init": case["init"], "device": device}
        if case.get("dtype"):
            body["dtype"] = case["dtype"]
        mat = service.json("POST", f"/v1/sessions/{sid}/modules/{mid}/materializations", body)
        status, data = service.request("GET", f"/v1/sessions/{sid}/materializations/{mat['id']}/safetensors")
        if status != 200:
            raise RuntimeError(f"GET safetensors: {status} {data[:300]!r}")
    finally:
        service.request("DELETE", f"/v1/sessions/{sid}")
    path = workdir / f"{case['id']}.{device}.safetensors"
    path.write_bytes(data)
    result["golden"] = "ok" if data == (GOLDEN / case["file"]).read_bytes() else "differs"

    expected = expected_state(case)

    model = fresh_model(case)
    try:
        problem = check_file_dtypes(model, stt.load_file(str(path)))
        stt.load_model(model, str(path), strict=True)
        result["load_model"] = "ok"
        problem = problem or compare_state(model, expected)
    except Exception as exc:  # noqa: BLE001 - every failure goes into the table
        result["load_model"] = f"{type(exc).__name__}: {exc}"
        problem = problem or "not loaded"
    values = [problem] if problem else []

    model = fresh_model(case)
    try:
        tensors = with_aliases(str(path))
        problem = check_file_dtypes(model, tensors)
        model.load_state_dict(tensors, strict=True)
        result["state_dict"] = "ok"
        problem = problem or compare_state(model, expected)
    except Exception as exc:  # noqa: BLE001
        result["state_dict"] = f"{type(exc).__name__}: {exc}"
        problem = problem or "not loaded"
    if problem:
        values.append(problem)
    result["values"] = "ok" if not values else "; ".join(values)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url", help="e.g. http://127.0.0.1:18080")
    parser.add_argument("--device", choices=["cpu", "worker", "both"], default="both")
    parser.add_argument("--api-key", default=os.environ.get("MATERIA_API_KEY"))
    parser.add_argument("--only", default="")
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()

    service = Service(args.base_url, args.api_key)
    try:
        service.json("GET", "/healthz")
    except (OSError, RuntimeError) as exc:
        print(f"cannot reach materia at {args.base_url}: {exc}", file=sys.stderr)
        return 2

    cases = [c for c in json.loads((GOLDEN / "cases.json").read_text(encoding="utf-8")) if args.only in c["id"]]
    devices = ["cpu", "worker"] if args.device == "both" else [args.device]
    columns = ["golden", "load_model", "state_dict", "values"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for case in cases:
            for device in devices:
                try:
                    result = check_case(service, case, device, workdir)
                except Exception as exc:  # noqa: BLE001
                    result = {c: "-" for c in columns}
                    result["golden"] = f"request failed: {exc}"
                rows.append((case["id"], device, result))

    width = max(len(r[0]) for r in rows) if rows else 10
    print(f"{'case':<{width}}  {'device':<6}  " + "  ".join(f"{c:<10}" for c in columns))
    failures = []
    for cid, device, result in rows:
        cells = ["PASS" if result[c] == "ok" else "FAIL" for c in columns]
        print(f"{cid:<{width}}  {device:<6}  " + "  ".join(f"{c:<10}" for c in cells))
        failures += [(cid, device, c, result[c]) for c in columns if result[c] != "ok"]
    total = len(rows) * len(columns)
    print(f"\n{len(rows)} downloads ({len(cases)} cases x {len(devices)} devices), "
          f"{total - len(failures)}/{total} checks passed")
    by_column = {c: sum(1 for f in failures if f[2] == c) for c in columns}
    print("failures by check: " + ", ".join(f"{c} {n}" for c, n in by_column.items()))
    for cid, device, column, text in failures:
        print(f"  FAIL {cid} [{device}] {column}: {text}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
