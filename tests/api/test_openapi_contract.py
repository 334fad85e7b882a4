"""A short schemathesis run in the suite: generated requests (valid and invalid) against a real
server, as the seller, a guest and an anonymous caller, with every check of ``--checks all``. The
full run (every phase, 100 examples an operation) is ``python -m bench.openapi``."""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bench.openapi_hooks  # noqa: F401  (registers the SDP and WebM serializers)
import httpx
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig

from liveshop.app import create_app
from liveshop.config import Settings
from tests.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    LiveServer,
    create_admin,
    require,
    start_server,
    stop_server,
)

ROOT = Path(__file__).resolve().parents[2]
ROLES = ["admin", "guest", "anonymous"]
EXAMPLES = 4  # per operation and role: valid and invalid data for each, in seconds


class ThreadServer:
    """``start_server`` on an event loop of its own thread: schemathesis calls it synchronously."""

    def __init__(self, settings: Settings) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.uvicorn, self.task, self.live = self.run(start_server(settings))

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def close(self) -> None:
        self.run(stop_server(self.uvicorn, self.task))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def contract_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A real server on SQLite, or PostgreSQL (ids at the bounds reach the database)."""
    tmp = tmp_path_factory.mktemp("contract")
    database_url = f"sqlite+aiosqlite:///{tmp / 'liveshop.db'}"
    if request.param == "postgres":
        require("PostgreSQL", "127.0.0.1", 5432)
        database_url = request.getfixturevalue("pg_migrated")
        from tests.conftest import _truncate_pg

        asyncio.run(_truncate_pg(database_url))
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="test",
        data_dir=tmp / "data",
        secret_key="test-secret-key-" + "x" * 32,
        database_url=database_url,
        guest_tokens_per_minute=0,  # every request comes from 127.0.0.1
        registrations_per_minute=0,
    )
    server = ThreadServer(settings)
    server.run(create_admin(server.live))
    try:
        yield server.live
    finally:
        server.close()


def _token(url: str, role: str) -> str | None:
    if role == "anonymous":
        return None
    if role == "admin":
        body = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        r = httpx.post(f"{url}/api/auth/login", json=body)
    else:
        r = httpx.post(f"{url}/api/auth/guest", json={"name": "Contract"})
    r.raise_for_status()
    token: str = r.json()["accessToken"]
    return token


@pytest.fixture(scope="module")
def role_headers(contract_server: LiveServer) -> dict[str, dict[str, str]]:
    """Per role, the seller's, a guest's or no Authorization header."""
    headers = {}
    for role in ROLES:
        token = _token(contract_server.url, role)
        headers[role] = {} if token is None else {"Authorization": f"Bearer {token}"}
    return headers


def _schema(phases: list[str], max_examples: int) -> Any:
    """/openapi.json of the app (built, not served: the cases are made at collection time) with
    schemathesis.toml's settings, every check and a fixed seed (the same cases every run)."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=Path(_SPEC_DIR.name),
        secret_key="test-secret-key-" + "x" * 32,
    )
    config = SchemathesisConfig.from_path(ROOT / "schemathesis.toml")
    config.update(seed=14, max_failures=None)
    project = config.projects.override
    project.phases.update(phases=phases)
    project.checks.update(included_check_names=["all"])
    project.generation.update(max_examples=max_examples)
    return schemathesis.openapi.from_dict(create_app(settings).openapi(), config=config)


_SPEC_DIR = tempfile.TemporaryDirectory(prefix="liveshop-openapi-")
generated = _schema(["examples", "fuzzing"], max_examples=EXAMPLES)
boundaries = _schema(["coverage"], max_examples=EXAMPLES)


@pytest.mark.parametrize("contract_server", ["sqlite"], indirect=True, scope="module")
@pytest.mark.parametrize("role", ROLES)
@generated.parametrize()
def test_answers_to_generated_requests_match_the_document(
    case: Any, role: str, contract_server: LiveServer, role_headers: dict[str, dict[str, str]]
) -> None:
    """Random valid and invalid requests get the statuses, headers and bodies /openapi.json states."""
    case.call_and_validate(base_url=contract_server.url, headers=role_headers[role])


@boundaries.parametrize()
def test_answers_to_boundary_requests_match_the_document(
    case: Any, contract_server: LiveServer, role_headers: dict[str, dict[str, str]]
) -> None:
    """The seller's requests at every bound of the document (lengths, ranges, patterns, missing
    fields, undeclared methods, no token) get the answers it states."""
    case.call_and_validate(base_url=contract_server.url, headers=role_headers["admin"])
