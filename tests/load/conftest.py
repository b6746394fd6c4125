"""Fixtures for the load tests: real servers on 127.0.0.1, stopped afterwards.

Names start with ``load_`` so they do not collide with the shared fixtures in
tests/conftest.py.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.load.load_servers import (
    TEST_APPS_DIR,
    ClosingServer,
    LoadGunicorn,
    Reply,
    ScriptedServer,
    start_load_gunicorn,
)


@pytest.fixture(scope="session")
def load_gunicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadGunicorn]:
    """A shared gthread Gunicorn (2 workers x 4 threads, keep-alive on)."""
    server = start_load_gunicorn(tmp_path_factory.mktemp("load-gunicorn"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def load_bodies_gunicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadGunicorn]:
    """A gthread Gunicorn serving tests/load/apps/transport_app.py: chunked
    and large bodies, and an echo of the request body."""
    server = start_load_gunicorn(
        tmp_path_factory.mktemp("load-bodies"),
        app="transport_app:app",
        app_dir=TEST_APPS_DIR,
        ready_path="/echo",
    )
    yield server
    server.stop()


@pytest.fixture
def load_gunicorn_factory(
    tmp_path: Path,
) -> Iterator[Callable[..., LoadGunicorn]]:
    """Start extra Gunicorn servers for one test; all are stopped after it."""
    started: list[LoadGunicorn] = []

    def start(**kwargs: object) -> LoadGunicorn:
        server = start_load_gunicorn(tmp_path / f"server{len(started)}", **kwargs)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def load_closing_server_factory() -> Iterator[Callable[[bytes], ClosingServer]]:
    """Start raw servers that hang up on every connection."""
    servers: list[ClosingServer] = []

    def start(reply: bytes = b"") -> ClosingServer:
        server = ClosingServer(reply=reply).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def load_scripted_server_factory() -> Iterator[Callable[..., ScriptedServer]]:
    """Start raw servers that answer from a script (see ScriptedServer)."""
    servers: list[ScriptedServer] = []

    def start(*replies: Reply) -> ScriptedServer:
        server = ScriptedServer(replies=replies).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def load_tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1, made with openssl."""
    folder = tmp_path_factory.mktemp("load-tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        subprocess.run(
            [
                "openssl", "req", "-x509", "-nodes", "-days", "1",
                "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-keyout", str(key), "-out", str(cert),
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )  # fmt: skip
    except FileNotFoundError:
        pytest.skip("openssl is not installed: cannot make a certificate for the TLS test")
    return cert, key
