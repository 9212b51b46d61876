"""Client, Session, Module and Materialization: the service's resources as Python objects."""
from __future__ import annotations

import contextlib
import json
import os
import time
from urllib.parse import quote
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import httpx

from ._errors import MateriaError, raise_for_error
from ._stream import ChunkReader, as_tensor, empty_bytes, iter_tensors, read_header
from ._version import __version__

Spec = Union[str, Mapping[str, Any]]
"""A module spec: a dict as in the JSON API (``{"class": "Linear", "args": [4, 8]}``) or a Python expression."""

ProgressArg = Union[bool, Callable[[int, int], None]]

CHUNK_BYTES = 1 << 20


def parse_size(size: Union[int, str]) -> int:
    """Bytes of ``5GB`` (10**9), ``5GiB`` (2**30), ``500MB``, ``100KiB`` or an int, as transformers' max_shard_size."""
    if isinstance(size, int):
        return size
    s = size.strip().upper()
    units = {"GIB": 2**30, "MIB": 2**20, "KIB": 2**10, "GB": 10**9, "MB": 10**6, "KB": 10**3, "B": 1}
    for unit, scale in units.items():
        if s.endswith(unit):
            return int(float(s[: -len(unit)]) * scale)
    return int(s)


class Client:
    """A connection to a materia service.

    >>> svc = materia.Client("http://localhost:8080", api_key=os.environ.get("MATERIA_API_KEY"))
    """

    def __init__(self, url: str, api_key: Optional[str] = None, *, timeout: float = 300.0,
                 transport: Optional[httpx.BaseTransport] = None) -> None:
        headers = {"user-agent": f"materia-python/{__version__}"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        self.timeout = timeout
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout,
                                  transport=transport, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; an error answer raises MateriaError."""
        response = self._http.request(method, path, **kwargs)
        raise_for_error(response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()

    @contextlib.contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """A response whose body is read as it arrives; an error answer raises MateriaError."""
        with self._http.stream(method, path, **kwargs) as response:
            if not response.is_success:
                response.read()
                raise_for_error(response)
            yield response

    def api_version(self) -> str:
        """The API version the service describes (openapi ``info.version``); this package's version is the one it speaks."""
        return str(self.json("GET", "/openapi.json")["info"]["version"])

    def session(self, ttl: Optional[int] = None) -> "Session":
        """A new session (``ttl`` seconds, sliding); use it in ``with`` to delete it, and all it holds, on exit."""
        body = {} if ttl is None else {"ttlSeconds": ttl}
        return Session(self, self.json("POST", "/v1/sessions", json=body))

    def estimate(self, spec: Spec, ties: Optional[Sequence[Sequence[str]]] = None) -> Dict[str, Any]:
        """Memory PyTorch would allocate for a module, by dtype (POST /v1/estimate); no session needed."""
        return self.json("POST", "/v1/estimate", json=spec_body(spec, ties))  # type: ignore[no-any-return]

    def catalog(self) -> List[Dict[str, Any]]:
        """Every class the service can build, with its signature."""
        return self.json("GET", "/v1/modules")["modules"]  # type: ignore[no-any-return]


def spec_body(spec: Spec, ties: Optional[Sequence[Sequence[str]]] = None) -> Dict[str, Any]:
    """The JSON body of a spec: a string is a Python expression (``{"python": …}``)."""
    body: Dict[str, Any] = {"python": spec} if isinstance(spec, str) else dict(spec)
    if ties is not None:
        body["ties"] = [list(group) for group in ties]
    return body


class Session:
    """A session: modules and materializations with a sliding TTL. As a context manager it is deleted on exit."""

    def __init__(self, client: Client, info: Dict[str, Any]) -> None:
        self.client = client
        self.info = info
        self.id: str = info["id"]

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.delete(missing_ok=True)

    def __repr__(self) -> str:
        return f"<materia.Session {self.id}>"

    @property
    def path(self) -> str:
        return f"/v1/sessions/{self.id}"

    def refresh(self) -> Dict[str, Any]:
        self.info = self.client.json("GET", self.path)
        return self.info

    def delete(self, missing_ok: bool = False) -> None:
        """Deletes the session and frees every byte it held."""
        try:
            self.client.request("DELETE", self.path)
        except MateriaError as e:
            if not (missing_ok and e.status == 404):
                raise

    def build(self, spec: Spec, ties: Optional[Sequence[Sequence[str]]] = None) -> "Module":
        """Builds a module on the meta device (shapes only): ``s.build({"class": "LSTM", "args": [6, 9]})`` or
        ``s.build("nn.LSTM(6, 9)")``; ``ties=[["lm_head.weight", "embed.weight"]]`` shares storage."""
        body = spec_body(spec, ties)
        return Module(self, body, self.client.json("POST", f"{self.path}/modules", json=body))

    def modules(self) -> List["Module"]:
        """The session's modules, every page."""
        out: List[Module] = []
        cursor: Optional[str] = None
        while True:
            page = self.client.json("GET", f"{self.path}/modules", params={"limit": 1000, **({"cursor": cursor} if cursor else {})})
            out.extend(Module(self, {"class": m["class"], "args": m.get("args", []), "kwargs": m.get("kwargs", {})}, m) for m in page["modules"])
            cursor = page.get("nextCursor")
            if not cursor:
                return out


class Module:
    """A module built on the meta device: its tensor table, without memory."""

    def __init__(self, session: Session, spec: Dict[str, Any], info: Dict[str, Any]) -> None:
        self.session = session
        self.spec = spec
        self.info = info
        self.id: str = info["id"]

    def __repr__(self) -> str:
        return f"<materia.Module {self.id} {self.info.get('class')}>"

    @property
    def path(self) -> str:
        return f"{self.session.path}/modules/{self.id}"

    @property
    def tensors(self) -> List[Dict[str, Any]]:
        """Every tensor in ``state_dict()`` order: name, kind, shape, dtype, stride, numel, nbytes, requiresGrad, persistent, tiedTo."""
        return self.info["tensors"]  # type: ignore[no-any-return]

    def estimate(self) -> Dict[str, Any]:
        """Memory by dtype, as ``accelerate estimate-memory`` reports it."""
        return self.session.client.estimate(self.spec)

    def materialize(self, init: Optional[Union[str, Mapping[str, Any]]] = None, seed: Optional[int] = None,
                    device: Optional[str] = None, rng: Optional[str] = None, dtype: Optional[str] = None,
                    progress: ProgressArg = False, wait: bool = True, poll_interval: float = 0.2,
                    lazy: bool = False) -> "Materialization":
        """Gives the module real memory. ``init``: ``empty`` (the service's default), ``zeros``, ``ones``, ``default``
        (``torch.manual_seed(seed); nn.X(...)``'s values) or an init spec with overrides.

        With ``progress`` (True: a tqdm bar when tqdm is installed; or a callable ``f(bytes_done, bytes_total)``) the
        service answers at once and the fill is polled; an exception while waiting (Ctrl-C) cancels it.
        ``wait=False`` returns the pending materialization at once (``.wait()`` later, or ``.cancel()``).
        ``lazy=True`` holds no memory on the service: it is ready at once and its bytes are generated as they
        are read, so a model larger than the service's memory can be iterated (``iter_state_dict()``) or downloaded.
        """
        body: Dict[str, Any] = {k: v for k, v in (("init", init), ("seed", seed), ("device", device), ("rng", rng), ("dtype", dtype)) if v is not None}
        if lazy:
            body["lazy"] = True
        client = self.session.client
        if wait and not progress:
            # the answer comes when the fill is done, however long that takes
            long_read = httpx.Timeout(client.timeout, read=None)
            return Materialization(self.session, client.json("POST", f"{self.path}/materializations", json=body, timeout=long_read))
        x = Materialization(self.session, client.json("POST", f"{self.path}/materializations", json={**body, "wait": False}))
        if wait:
            x.wait(progress=progress, poll_interval=poll_interval)
        return x

    def delete(self) -> None:
        self.session.client.request("DELETE", self.path)


def _progress_callback(progress: ProgressArg) -> Tuple[Callable[[int, int], None], Callable[[], None]]:
    """(update(done, total), close()) for a progress argument."""
    if callable(progress):
        return progress, lambda: None
    if not progress:
        return lambda done, total: None, lambda: None
    try:
        from tqdm.auto import tqdm  # type: ignore[import-untyped]
    except ImportError:
        return lambda done, total: None, lambda: None
    bar = tqdm(total=0, unit="B", unit_scale=True, unit_divisor=1024, desc="materialize")

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()
    return update, bar.close


class Materialization:
    """A module given real memory: its bytes as torch tensors, a module loaded from them, or files on disk."""

    def __init__(self, session: Session, info: Dict[str, Any]) -> None:
        self.session = session
        self.info = info
        self.id: str = info["id"]

    def __repr__(self) -> str:
        return f"<materia.Materialization {self.id} {self.status}>"

    @property
    def client(self) -> Client:
        return self.session.client

    @property
    def path(self) -> str:
        return f"{self.session.path}/materializations/{self.id}"

    @property
    def status(self) -> str:
        return str(self.info["status"])

    @property
    def tensors(self) -> List[Dict[str, Any]]:
        """Every tensor, in ``state_dict()`` order, with ``href`` to its bytes."""
        return self.info["tensors"]  # type: ignore[no-any-return]

    def refresh(self) -> Dict[str, Any]:
        self.info = self.client.json("GET", self.path)
        return self.info

    def wait(self, progress: ProgressArg = False, poll_interval: float = 0.2) -> "Materialization":
        """Polls until the fill is done; an exception meanwhile (KeyboardInterrupt too) cancels it and propagates."""
        update, close = _progress_callback(progress)
        try:
            while True:
                p = self.info["progress"]
                update(int(p["bytesDone"]), int(p["bytesTotal"]))
                if self.status == "ready":
                    return self
                if self.status == "failed":
                    raise MateriaError(f"materialization {self.id} failed: {self.info.get('error', 'unknown')}")
                time.sleep(poll_interval)
                self.refresh()
        except BaseException:
            if self.status == "pending":
                with contextlib.suppress(Exception):
                    self.cancel()
            raise
        finally:
            close()

    def cancel(self) -> None:
        """Deletes the materialization: a running fill stops and its memory is freed."""
        self.client.request("DELETE", self.path)

    delete = cancel

    def tensor(self, name: str) -> Any:
        """One tensor, by its state_dict name (GET …/tensors/{name})."""
        with self.client.stream("GET", f"{self.path}/tensors/{quote(name, safe='')}") as r:
            dtype = r.headers["x-tensor-dtype"]
            shape = [int(d) for d in r.headers["x-tensor-shape"].split(",") if d != ""]
            raw, view = empty_bytes(int(r.headers["content-length"]))
            if view is not None:
                ChunkReader(r.iter_bytes(CHUNK_BYTES)).readinto(view)
            return as_tensor(raw, dtype, shape)

    def _tie_groups(self) -> Dict[str, List[str]]:
        """state_dict name → every persistent name sharing its storage (itself included)."""
        groups: Dict[str, List[str]] = {}
        for t in self.tensors:
            if not t.get("persistent", True):
                continue
            root = t.get("tiedTo")
            group = groups.get(root) if root is not None else None
            if group is None:
                group = []
            group.append(t["name"])
            for n in group:
                groups[n] = group
        return groups

    def iter_state_dict(self) -> Iterator[Tuple[str, Any]]:
        """(name, tensor) one storage at a time, streamed from the service's safetensors file, each tied alias right
        after the tensor it shares storage with (the same tensor object). At most one tensor is in flight, so a
        caller that copies each one away holds no more than that."""
        groups = self._tie_groups()
        with self.client.stream("GET", f"{self.path}/safetensors") as r:
            reader = ChunkReader(r.iter_bytes(CHUNK_BYTES))
            entries, _metadata = read_header(reader)
            for name, tensor in iter_tensors(reader, entries):
                for n in groups.get(name, [name]):
                    yield n, tensor

    def state_dict(self) -> Dict[str, Any]:
        """The module's ``state_dict()`` as torch tensors, in its order; tied names share one storage."""
        got = dict(self.iter_state_dict())
        order = [t["name"] for t in self.tensors if t.get("persistent", True)]
        return {n: got[n] for n in order if n in got}

    def load_into(self, module: Any, strict: bool = True) -> Any:
        """Loads the bytes into ``module`` as ``module.load_state_dict(sd, strict=strict)`` does (missing, unexpected
        and size-mismatched keys raise PyTorch's RuntimeError; values are copied in place, so tied parameters stay
        tied), one tensor at a time. Returns ``(missing_keys, unexpected_keys)`` like load_state_dict."""
        import torch
        from torch.nn.modules.module import _IncompatibleKeys

        targets = module.state_dict(keep_vars=True)
        ours = {t["name"]: t for t in self.tensors if t.get("persistent", True)}
        missing = [k for k in targets if k not in ours]
        unexpected = [k for k in ours if k not in targets]
        errors = [f"size mismatch for {k}: copying a param with shape {torch.Size(ours[k]['shape'])} from checkpoint, "
                  f"the shape in current model is {targets[k].shape}."
                  for k in ours if k in targets and list(targets[k].shape) != list(ours[k]["shape"])]
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in unexpected)))
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in missing)))
        if errors:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(module.__class__.__name__, "\n\t".join(errors)))
        with torch.no_grad():
            for name, tensor in self.iter_state_dict():
                if name in targets:
                    targets[name].copy_(tensor)
        return _IncompatibleKeys(missing, unexpected)

    def _stream_to(self, path: str, url: str, params: Optional[Dict[str, Any]] = None) -> str:
        part = f"{path}.part"
        with self.client.stream("GET", url, params=params) as r, open(part, "wb") as f:
            for chunk in r.iter_bytes(CHUNK_BYTES):
                f.write(chunk)
        os.replace(part, path)
        return path

    def download(self, path: Union[str, "os.PathLike[str]"], shards: Optional[Union[int, str]] = None) -> List[str]:
        """Writes the state dict to disk, streamed. Without ``shards``: one safetensors file at ``path`` (tied aliases
        in its ``__metadata__``). With ``shards`` (``"5GB"``, ``"500MiB"``, bytes): the directory ``path`` gets
        ``model.safetensors.index.json`` and ``model-0000k-of-0000n.safetensors`` as ``save_pretrained(max_shard_size=…)``
        splits them (one shard: ``model.safetensors`` and no index, as transformers writes). Returns the files written."""
        target = os.fspath(path)
        if shards is None:
            return [self._stream_to(target, f"{self.path}/safetensors")]
        params = {"maxShardBytes": parse_size(shards)}
        os.makedirs(target, exist_ok=True)
        index_bytes = self.client.request("GET", f"{self.path}/safetensors/model.safetensors.index.json", params=params).content
        files = sorted(set(json.loads(index_bytes)["weight_map"].values())) or ["model.safetensors"]
        written = [self._stream_to(os.path.join(target, f), f"{self.path}/safetensors/{f}", params) for f in files]
        if files != ["model.safetensors"]:
            index_path = os.path.join(target, "model.safetensors.index.json")
            with open(index_path, "wb") as out:
                out.write(index_bytes)
            written.insert(0, index_path)
        return written

    def save_pretrained(self, save_directory: Union[str, "os.PathLike[str]"], max_shard_size: Optional[Union[int, str]] = None) -> List[str]:
        """The directory ``model.save_pretrained(save_directory, max_shard_size=…)`` writes. A ``transformers`` model
        gets every file transformers 5.18 writes (``config.json``, ``generation_config.json`` when it can generate,
        the weights with tied ones left out; ``max_shard_size`` defaults to transformers' ``"50GB"``), ready for
        ``from_pretrained``. Any other module gets its weights only, sharded at ``max_shard_size`` (default ``"5GB"``).
        Returns the files written."""
        params = {} if max_shard_size is None else {"maxShardBytes": parse_size(max_shard_size)}
        try:
            listing = self.client.request("GET", f"{self.path}/pretrained", params=params).json()
        except MateriaError as e:
            if e.code != "MATERIA_ERR_PRETRAINED_UNAVAILABLE":
                raise
            return self.download(save_directory, shards="5GB" if max_shard_size is None else max_shard_size)
        target = os.fspath(save_directory)
        os.makedirs(target, exist_ok=True)
        return [self._stream_to(os.path.join(target, f["name"]), f"{self.path}/pretrained/{quote(f['name'])}", params)
                for f in listing["files"]]
