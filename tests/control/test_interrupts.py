"""SIGINT and SIGTERM at each step of a CLI re-create.

The interrupt is sent when gtui announces a step on stderr. Each time gtui
finishes or rolls back that step, exits with 128 + the signal, and its last
line says which configuration the service runs, which is checked against
the container itself: the service serves, on exactly one container, with
no temporary container, journal or lock left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from gunicorn_tui.control.durability.journal import JournalStore
from gunicorn_tui.control.durability.target_lock import LOCK_PREFIX
from tests.control.helpers import gunicorn_container, serves, show_config, wait_worker_count
from tests.harness.containers import ContainerFactory
from tests.images import tags

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# check, create, stop, rename old, rename new, start, wait, remove old.
RECREATE_STEPS = 8


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("step", range(1, RECREATE_STEPS + 1))
def test_an_interrupt_at_each_step_ends_on_the_old_or_the_new_config(
    step: int,
    signal_name: str,
    container_factory: ContainerFactory,
    docker_client: docker.DockerClient,
    state_dir: Path,
) -> None:
    container, port = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "-w", "2")
    name = container.name or ""
    number = getattr(signal, signal_name)
    gtui = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn_tui",
            "retune",
            name,
            "-w",
            "3",
            "--timeout",
            "48",
            "--yes",
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert gtui.stderr is not None
    seen: list[str] = []
    for line in gtui.stderr:
        seen.append(line)
        if line.startswith(f"[{step}/{RECREATE_STEPS}]"):
            gtui.send_signal(number)
            break
    else:
        gtui.wait(10)
        raise AssertionError("step never announced:\n" + "".join(seen))
    out, err = gtui.communicate(timeout=180)
    assert gtui.returncode == 128 + number, out + "".join(seen) + err
    last = out.strip().splitlines()[-1]
    assert last in ("the service runs the old config", "the service runs the new config"), out
    assert f"interrupted ({signal_name}) at step" in out

    # What the last line says is what runs.
    assert serves(port)
    running = [c for c in docker_client.containers.list(all=True) if c.name == name]
    assert len(running) == 1 and running[0].status == "running"
    new = last.endswith("new config")
    wanted = 3 if new else 2
    assert wait_worker_count(running[0], wanted) == wanted
    assert show_config(running[0])["timeout"] == (48 if new else 30)
    assert (running[0].id == container.id) is not new
    if step <= 6:
        assert not new, "interrupted before the new container served: rolled back"
    if step == RECREATE_STEPS:
        assert new, "only the clean-up was left: completed"
    leftovers = [
        c.name
        for c in docker_client.containers.list(all=True)
        if c.name in (f"{name}-gtui-new", f"{name}-gtui-old", f"{LOCK_PREFIX}{name}")
    ]
    assert leftovers == []
    assert JournalStore(state_dir).pending() == []
