"""The one error type: what the service answered, or why no answer could be used."""
from __future__ import annotations

import json
from typing import Optional

import httpx


class MateriaError(Exception):
    """An error answer of the service, with its stable ``code`` (``MATERIA_ERR_…``), HTTP ``status`` and ``message``.

    ``code`` and ``status`` are ``None`` when the error did not come from the service (a file that
    does not match what the module expects, for instance).
    """

    def __init__(self, message: str, code: Optional[str] = None, status: Optional[int] = None) -> None:
        super().__init__(message if code is None else f"{code} ({status}): {message}")
        self.code = code
        self.status = status
        self.message = message


def raise_for_error(response: httpx.Response) -> None:
    """Raises MateriaError for a non-2xx answer; the body (JSON ``{statusCode, code, error, message}``) must be read."""
    if response.is_success or response.status_code == 304:
        return
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        raise MateriaError(str(body.get("message", "")), body["code"], response.status_code)
    text = response.content[:200].decode("utf-8", "replace")
    raise MateriaError(f"HTTP {response.status_code} from {response.request.method} {response.request.url.path}: {text}", None, response.status_code)
