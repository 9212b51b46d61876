"""materia: torch.nn modules built and materialized by a materia service, loaded like PyTorch's own.

    import materia, torch
    svc = materia.Client("http://localhost:8080", api_key=...)
    with svc.session(ttl=600) as s:                       # deleted on exit
        m = s.build({"class": "LSTM", "args": [6, 9], "kwargs": {"bidirectional": True}})
        x = m.materialize(init="default", seed=7, device="worker", progress=True)
        sd = x.state_dict()                               # torch tensors, ties restored as shared storage
        x.load_into(torch.nn.LSTM(6, 9, bidirectional=True))
"""
from ._client import Client, Materialization, Module, Session, parse_size
from ._errors import MateriaError
from ._version import __version__

__all__ = ["Client", "Session", "Module", "Materialization", "MateriaError", "parse_size", "__version__"]
