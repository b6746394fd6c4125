"""A sweep killed on engine B is restored through engine B.

``gtui sweep`` on a container of host B (over SSH, ``-H ssh://hostb``) is
killed with SIGKILL while it measures its first config (2 workers, the
original is 1). The sweep's journal records B's engine. ``gtui recover``
on this machine's engine alone refuses it, naming ``gtui recover -H
ssh://hostb``, and keeps the journal; with B given, B's container is put
back on 1 worker and the journal archived.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gunicorn_tui.control.durability.state_dir import STATE_DIR_ENV
from gunicorn_tui.sweep.journal import SweepJournalStore
from tests.control.helpers import gunicorn_container, worker_count
from tests.core.monitor_waits import REPO_ROOT, run_gtui
from tests.harness.containers import ContainerFactory
from tests.images import tags
from tests.remote.conftest import HostB

pytestmark = pytest.mark.slow

PROFILE = (
    '[run]\nmode = "closed"\nconcurrency = 2\nduration_s = 1\nconnections = 2\n'
    '[[request]]\npath = "/"\n'
)


def _wait(condition: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_sweep_killed_on_engine_b_is_restored_through_engine_b(
    host_b: HostB, factory_b: ContainerFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GTUI_REMOTE_GTUI", "/nonexistent/gtui")
    container, port = gunicorn_container(factory_b, tags.GUNICORN_LATEST, "-w", "1")
    state_path = tmp_path / "state"
    profile = tmp_path / "load.toml"
    profile.write_text(PROFILE)
    environment = {**os.environ, STATE_DIR_ENV: str(state_path), "PYTHONPATH": str(REPO_ROOT)}
    sweep = subprocess.Popen(
        [sys.executable, "-m", "gunicorn_tui", "sweep", f"{host_b.name}/{container.name}",
         "-H", host_b.url, "--workers", "2,3", "--in-turn", "--warmup", "1",
         "--measure", "120", "--profile", str(profile), "--url", f"http://127.0.0.1:{port}",
         "--yes"],
        env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []

    def read() -> None:
        assert sweep.stderr is not None
        lines.extend(iter(sweep.stderr.readline, ""))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        _wait(lambda: any(line.startswith("[1/2] measure") for line in lines)
              or sweep.poll() is not None, 180, "the first config measured")  # fmt: skip
        assert sweep.poll() is None, "".join(lines)
        sweep.send_signal(signal.SIGKILL)
        sweep.wait(30)
    finally:
        if sweep.poll() is None:
            sweep.kill()
            sweep.wait(30)
    reader.join(10)
    assert worker_count(container) == 2, "".join(lines)
    (journal,) = SweepJournalStore(state_path).pending()
    engine = journal.engine
    assert engine is not None, json.dumps(journal.data)
    assert (engine.address, engine.host) == (host_b.url, host_b.name)
    assert engine.engine_id == host_b.engine.client.api.info()["ID"] + " " + " ".join(
        [host_b.engine.client.api.info()["Name"], host_b.engine.client.api.info()["DockerRootDir"]]
    )
    state = {STATE_DIR_ENV: str(state_path)}

    # This machine's engine alone: refused, one clear line, the journal kept.
    refused = run_gtui("recover", env=state, timeout_s=120)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    (line,) = [row for row in refused.stdout.splitlines() if journal.id in row]
    assert "refused" in line and "on host hostb" in line, line
    assert f"gtui recover -H {host_b.url}" in line, line
    assert "Traceback" not in refused.stderr
    assert [j.id for j in SweepJournalStore(state_path).pending()] == [journal.id]
    assert worker_count(container) == 2

    restored = run_gtui("recover", "-H", host_b.url, env=state, timeout_s=180)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    (line,) = [row for row in restored.stdout.splitlines() if journal.id in row]
    assert "restored" in line and "1 x sync" in line, line
    assert SweepJournalStore(state_path).pending() == []
    _wait(lambda: worker_count(container) == 1, 30, "B's container on 1 worker again")
