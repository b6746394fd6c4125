"""Engines that cannot be used: each fails fast with one line, never a prompt or a hang."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gunicorn_tui.access.endpoints import resolve_endpoints
from gunicorn_tui.access.engine_connect import EngineConnector, EngineUnreachable
from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from tests.core.monitor_waits import run_gtui
from tests.harness.containers import ContainerFactory
from tests.harness.remote_hosts import SshServer, make_tls_files
from tests.images import tags
from tests.remote.conftest import HostB


def _fails(url: str, timeout_s: float = 10.0) -> tuple[str, float]:
    connector = EngineConnector(resolve_endpoints([url])[0], timeout_s=timeout_s)
    started = time.monotonic()
    try:
        with pytest.raises(EngineUnreachable) as caught:
            connector()
    finally:
        connector.close()
    message = str(caught.value)
    assert "\n" not in message and message
    return message, time.monotonic() - started


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word (a stalled peer)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for connection in accepted:
            connection.close()
        server.close()


@pytest.fixture
def not_docker() -> Iterator[int]:
    """An HTTP server that is not a Docker engine (it answers 404 with HTML)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_unknown_host() -> None:
    message, _ = _fails("ssh://nosuchhost.invalid")
    assert "Could not resolve hostname nosuchhost.invalid" in message


def test_host_key_mismatch(host_b: HostB) -> None:
    message, _ = _fails(f"ssh://{host_b.name}-wrongkey")
    assert "host key mismatch" in message or "Host key verification failed" in message


def test_a_password_prompt_fails_instead_of_waiting(host_b: HostB) -> None:
    message, took_s = _fails(f"ssh://{host_b.name}-nokey")
    assert "Permission denied" in message and "password" in message
    assert took_s < 15


def test_an_engine_that_answers_but_is_not_docker(not_docker: int) -> None:
    message, _ = _fails(f"tcp://127.0.0.1:{not_docker}")
    assert "not a Docker engine" in message


def test_a_stalled_engine_times_out(silent_listener: int) -> None:
    message, took_s = _fails(f"tcp://127.0.0.1:{silent_listener}", timeout_s=2)
    assert "no answer" in message and took_s < 10


def test_a_stalled_ssh_peer_times_out(silent_listener: int) -> None:
    message, took_s = _fails(f"ssh://127.0.0.1:{silent_listener}")
    assert "ssh 127.0.0.1" in message and took_s < 20


def test_a_stalled_engine_does_not_hold_up_the_others(silent_listener: int) -> None:
    monitor = Monitor(
        MonitorOptions(
            engines=resolve_endpoints(
                ["unix:///var/run/docker.sock", f"tcp://127.0.0.1:{silent_listener}"]
            ),
            collect_traffic=False,
            statsd_address=None,
        )
    )
    started = time.monotonic()
    monitor.open(wait_for_docker_s=2)
    try:
        assert time.monotonic() - started < 5
        sample_started = time.monotonic()
        frame = monitor.sample()
        assert time.monotonic() - sample_started < 2
        states = {status.name: status.state.value for status in frame.engines}
        assert states[f"127.0.0.1:{silent_listener}"] == "unreachable"
        assert states["local"] == "connected"
    finally:
        monitor.close()


def test_cli_says_which_engine_and_why(host_b: HostB) -> None:
    done = run_gtui("snapshot", "--json", "-H", f"ssh://{host_b.name}-nokey", "web")
    assert done.returncode == 4
    (line,) = done.stderr.strip().splitlines()
    assert "Permission denied" in line


def test_bad_host_urls_are_usage_errors() -> None:
    done = run_gtui("ls", "-H", "ftp://x")
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "unsupported scheme 'ftp'" in line


def test_tls_engine_with_the_ca_pinned_despite_requests_ca_bundle(
    host_b: HostB, factory_b: ContainerFactory
) -> None:
    container = factory_b.start(tags.GUNICORN_LATEST, ["sleep", "300"])
    env = {
        "DOCKER_TLS_VERIFY": "1",
        "DOCKER_CERT_PATH": str(host_b.engine.cert_dir),
        # A bundle without the engine's CA: used, it would fail verification.
        "REQUESTS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt",
        "CURL_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt",
    }
    done = run_gtui("snapshot", "--json", "--interval", "0.2", "-H", host_b.engine.tls_url,
                    env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    (engine,) = json.loads(done.stdout)["engines"]
    assert engine["state"] == "connected", engine
    assert engine["address"] == host_b.engine.tls_url
    assert container.id  # the engine answered as B (its containers are not gtui's to show)


def test_tls_engine_without_tls_or_with_another_ca_says_why(host_b: HostB, tmp_path: Path) -> None:
    plain, _ = _fails(host_b.engine.tls_url)
    assert plain.startswith(host_b.engine.tls_url)
    for name in ("cert.pem", "key.pem"):
        (tmp_path / name).write_bytes((host_b.engine.cert_dir / name).read_bytes())
    make_tls_files(tmp_path / "other")
    (tmp_path / "ca.pem").write_bytes((tmp_path / "other" / "ca.pem").read_bytes())
    env = {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tmp_path)}
    connector = EngineConnector(resolve_endpoints([host_b.engine.tls_url], environ=env)[0])
    with pytest.raises(EngineUnreachable, match=r"TLS|certificate verify failed") as caught:
        connector()
    assert "\n" not in str(caught.value)


def test_a_host_without_docker_says_so(host_b: HostB) -> None:
    # A second sshd on host B whose sessions find no `docker` (an empty PATH):
    # the host answers over SSH, but there is no engine to reach there.
    bare = SshServer("nodocker", {"PATH": "/nonexistent"})
    try:
        combined = bare.dir / "combined_config"
        combined.write_text(host_b.sshd.client_config.read_text() + bare.client_config.read_text())
        wrapper = host_b.sshd.bin_dir / "ssh"
        original = wrapper.read_text()
        wrapper.write_text(original.replace(str(host_b.sshd.client_config), str(combined)))
        try:
            message, took_s = _fails("ssh://nodocker")
        finally:
            wrapper.write_text(original)
    finally:
        bare.close()
    assert "docker" in message and "not found" in message, message
    assert took_s < 15
