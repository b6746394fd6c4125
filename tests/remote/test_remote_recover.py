"""``gtui recover`` with ``-H``: each interrupted action is settled on the
engine its journal names, and refused, with the way to reach it, elsewhere.

A retune of a container on host B (over SSH) is killed with SIGKILL right
after B's old container was stopped (tests/harness/crash_after_step.py): B's service is
down and a journal is left. Recovering on this machine's engine alone is
refused and keeps the journal; recovering with B among the engines brings
B's service back, and A's container is never touched.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import docker
import pytest
from docker.models.containers import Container

from gunicorn_tui.control.durability.journal import JournalStore
from gunicorn_tui.control.durability.state_dir import STATE_DIR_ENV
from tests.core.monitor_waits import run_gtui
from tests.harness.containers import ContainerFactory
from tests.harness.crash_after_step import run_crashing_gtui
from tests.harness.loopback import free_port
from tests.images import tags
from tests.remote.conftest import HostB

LOCAL = "unix:///var/run/docker.sock"
# check, create, stop: killed with B's old container stopped, the new one not started.
CRASH_AFTER = 3


def _gunicorn(factory: ContainerFactory) -> tuple[Container, int]:
    port = free_port()
    container = factory.start(
        tags.GUNICORN_LATEST,
        ["gunicorn", "-b", f"127.0.0.1:{port}", "-w", "2", "--timeout", "30", "app:app"],
    )
    factory.wait_http(container, port)
    return container, port


def _serves(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            return int(response.status) == 200
    except OSError:
        return False


def test_recover_acts_on_the_engine_the_journal_names(
    host_b: HostB,
    container_factory: ContainerFactory,
    factory_b: ContainerFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GTUI_REMOTE_GTUI", "/nonexistent/gtui")
    on_a, port_a = _gunicorn(container_factory)
    on_b, port_b = _gunicorn(factory_b)
    a_before = docker.from_env().api.inspect_container(on_a.id or "")
    state_path = tmp_path / "state"
    state = {STATE_DIR_ENV: str(state_path)}
    engines = ("-H", LOCAL, "-H", host_b.url)

    killed = run_crashing_gtui(
        CRASH_AFTER,
        "retune", f"hostb/{on_b.name}", "--workers", "3", "--timeout", "41", "--yes",
        *engines, env=state, timeout_s=180,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    (pending,) = JournalStore(state_path).pending()
    assert pending.data["host"] == "hostb"
    assert pending.data["engine_address"] == host_b.url
    assert not _serves(port_b)  # B's old container stopped, the new one not started

    listed = run_gtui("recover", "--list", *engines, env=state)
    assert listed.returncode == 0, listed.stderr
    assert f"retune hostb/{on_b.name}" in listed.stdout

    # This machine's engine only: refused, one clear line, the journal kept.
    for alone in (("-H", LOCAL), ()):
        refused = run_gtui("recover", *alone, env=state, timeout_s=120)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        (line,) = [row for row in refused.stdout.splitlines() if pending.id in row]
        assert "refused" in line and "on host hostb" in line, line
        assert f"gtui recover -H {host_b.url}" in line, line
        assert "Traceback" not in refused.stderr
        assert [j.id for j in JournalStore(state_path).pending()] == [pending.id]

    # B by a name whose key sshd refuses: B unreachable, said, never a prompt.
    unreachable = run_gtui("recover", "-H", f"{host_b.url}-nokey", env=state, timeout_s=120)
    assert unreachable.returncode == 1, unreachable.stdout + unreachable.stderr
    (line,) = [row for row in unreachable.stdout.splitlines() if pending.id in row]
    assert "refused" in line and "hostb-nokey unreachable" in line, line
    assert "Permission denied" in line, line
    assert [j.id for j in JournalStore(state_path).pending()] == [pending.id]

    recovered = run_gtui("recover", *engines, env=state, timeout_s=180)
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert JournalStore(state_path).pending() == []
    assert _serves(port_b)
    survivor = host_b.engine.client.containers.get(on_b.name or "")
    assert survivor.status == "running"
    audit = [json.loads(row) for row in (state_path / "audit.jsonl").read_text().splitlines()]
    assert (audit[-1]["action"], audit[-1]["host"]) == ("recover retune", "hostb")

    # A was never touched.
    a_after = docker.from_env().api.inspect_container(on_a.id or "")
    assert a_after["State"]["StartedAt"] == a_before["State"]["StartedAt"]
    assert a_after["Args"] == a_before["Args"] and _serves(port_a)
