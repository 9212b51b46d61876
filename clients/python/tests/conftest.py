"""The service under test: MATERIA_URL names a listening materia (test/python-client.test.ts starts one on loopback)."""
from __future__ import annotations

import os
from typing import Iterator

import pytest

import materia


@pytest.fixture(scope="session")
def url() -> str:
    value = os.environ.get("MATERIA_URL")
    if not value:
        pytest.fail("MATERIA_URL must name a listening materia service (npx tap test/python-client.test.ts starts one)")
    return value


@pytest.fixture(scope="session")
def svc(url: str) -> Iterator[materia.Client]:
    with materia.Client(url, api_key=os.environ.get("MATERIA_API_KEY")) as client:
        yield client


@pytest.fixture()
def s(svc: materia.Client) -> Iterator[materia.Session]:
    with svc.session(ttl=600) as session:
        yield session
