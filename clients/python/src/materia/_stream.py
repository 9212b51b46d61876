"""Reading safetensors from a byte stream, one tensor at a time.

The format (https://huggingface.co/docs/safetensors/index#format): 8 bytes little-endian header
length N, N bytes of JSON ``{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {…}}``,
then the data. Each tensor's bytes are read from the stream straight into the memory of the tensor
that is returned, so a file is never held whole (nor twice) in memory.
"""
from __future__ import annotations

import json
import struct
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ._errors import MateriaError

# The format's own bound on the header (safetensors rejects larger ones).
MAX_HEADER_BYTES = 100_000_000

SAFETENSORS_DTYPES = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
    "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool",
}


class ChunkReader:
    """Exact reads over an iterator of byte chunks (an HTTP response body)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = memoryview(b"")

    def _next(self) -> bool:
        for chunk in self._chunks:
            if chunk:
                self._buf = memoryview(chunk)
                return True
        return False

    def readinto(self, target: memoryview) -> None:
        filled = 0
        while filled < len(target):
            if not self._buf and not self._next():
                raise MateriaError(f"the stream ended {len(target) - filled} bytes early")
            n = min(len(self._buf), len(target) - filled)
            target[filled:filled + n] = self._buf[:n]
            self._buf = self._buf[n:]
            filled += n

    def read(self, n: int) -> bytes:
        out = bytearray(n)
        self.readinto(memoryview(out))
        return bytes(out)


class Entry:
    __slots__ = ("name", "dtype", "shape", "begin", "end")

    def __init__(self, name: str, dtype: str, shape: List[int], begin: int, end: int) -> None:
        self.name, self.dtype, self.shape, self.begin, self.end = name, dtype, shape, begin, end


def read_header(reader: ChunkReader) -> Tuple[List[Entry], Dict[str, str]]:
    """The tensor entries in data order, and ``__metadata__``."""
    (n,) = struct.unpack("<Q", reader.read(8))
    if n > MAX_HEADER_BYTES:
        raise MateriaError(f"safetensors header of {n} bytes, more than the format's {MAX_HEADER_BYTES}")
    header: Dict[str, Any] = json.loads(reader.read(n))
    metadata = header.pop("__metadata__", None) or {}
    entries = [Entry(k, v["dtype"], list(v["shape"]), v["data_offsets"][0], v["data_offsets"][1]) for k, v in header.items()]
    entries.sort(key=lambda e: e.begin)
    return entries, metadata


def _torch() -> Any:
    try:
        import torch
    except ImportError as e:  # pragma: no cover - the error names the extra to install
        raise ImportError("tensors need PyTorch: pip install 'materia[torch]'") from e
    return torch


def empty_bytes(nbytes: int) -> Tuple[Any, Optional[memoryview]]:
    """A uint8 tensor of nbytes and a writable view of its memory (None when empty)."""
    torch = _torch()
    if nbytes == 0:
        return torch.empty(0, dtype=torch.uint8), None
    buf = bytearray(nbytes)
    return torch.frombuffer(buf, dtype=torch.uint8), memoryview(buf)


def as_tensor(raw: Any, dtype: str, shape: List[int]) -> Any:
    torch = _torch()
    return raw.view(getattr(torch, dtype)).reshape(shape)


def iter_tensors(reader: ChunkReader, entries: List[Entry]) -> Iterator[Tuple[str, Any]]:
    """(name, tensor) in data order, each read from the stream into its own memory."""
    at = 0
    for e in entries:
        if e.begin < at:
            raise MateriaError(f"safetensors entry {e.name!r} overlaps the one before it")
        if e.begin > at:
            reader.read(e.begin - at)
        dtype = SAFETENSORS_DTYPES.get(e.dtype)
        if dtype is None:
            raise MateriaError(f"safetensors dtype {e.dtype!r} of {e.name!r} is not one this client reads")
        raw, view = empty_bytes(e.end - e.begin)
        if view is not None:
            reader.readinto(view)
        at = e.end
        yield e.name, as_tensor(raw, dtype, e.shape)
