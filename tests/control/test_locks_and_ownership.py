"""One action at a time per container, whoever and wherever gtui runs; gtui removes only
the containers it created; a journal is settled only on the engine it was written for.

Real gtui processes: one as root, one as ``nobody`` (with access to the Docker
socket, as a member of its group), one as if on another host (its own host
lock directory, so only the lock on the engine can stop it).
"""

from __future__ import annotations

import contextlib
import grp
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from gunicorn_tui.control.durability.journal import JournalStore
from gunicorn_tui.control.durability.target_lock import LOCK_LABEL, LOCK_PREFIX
from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.control.planning.plan import Strategy
from gunicorn_tui.control.planning.requests import RetuneRequest
from tests.control.helpers import (
    gunicorn_container,
    pythonpath_for,
    run_gtui,
    sample_of,
    serves,
    worker_count,
)
from tests.core.throwaway_dockerd import ThrowawayDockerd
from tests.harness.containers import ContainerFactory
from tests.harness.crash_after_step import run_crashing_gtui
from tests.images import tags

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NOBODY = 65534
SITE = next(p for p in sys.path if p.endswith("site-packages") and Path(p, "docker").is_dir())


def _start_reload(name: str, port: int, state_dir: Path) -> subprocess.Popen[str]:
    """A root gtui reloading ``name`` while a slow request keeps an old worker
    busy: its wait for all-new workers, and so its lock, lasts ~15 s."""

    def slow_request() -> None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/io?ms=15000", timeout=30, trust_env=False)

    threading.Thread(target=slow_request, daemon=True).start()
    time.sleep(0.3)
    # The machine's shared lock directory, as for any gtui (not the session's).
    env = {k: v for k, v in os.environ.items() if k != "GTUI_LOCK_DIR"}
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn_tui", "reload", name, "--yes"],
        env={**env, "PYTHONPATH": str(ROOT), "GTUI_STATE_DIR": str(state_dir)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_engine_lock(
    client: docker.DockerClient, name: str, holder: subprocess.Popen[str]
) -> dict[str, str]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert holder.poll() is None, holder.communicate()
        try:
            labels = client.containers.get(LOCK_PREFIX + name).labels
        except docker.errors.NotFound:
            time.sleep(0.05)
            continue
        return dict(labels)
    raise AssertionError("the first gtui never took the lock")


@pytest.fixture
def nobody_home() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="gtui-nobody-", dir="/tmp"))
    os.chown(path, NOBODY, NOBODY)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="runs gtui as another user: needs root")
def test_a_second_gtui_as_another_user_or_on_another_host_is_refused(
    container_factory: ContainerFactory,
    docker_client: docker.DockerClient,
    state_dir: Path,
    nobody_home: Path,
    tmp_path: Path,
) -> None:
    container, port = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "-w", "2")
    name = container.name or ""
    first = _start_reload(name, port, state_dir)
    try:
        labels = _wait_for_engine_lock(docker_client, name, first)
        # The lock is on the engine, for any gtui driving it to see.
        assert labels[LOCK_LABEL] == name and labels[f"{LOCK_LABEL}.pid"] == str(first.pid)
        assert labels[f"{LOCK_LABEL}.purpose"] == "reload"

        # Another user of this host (in the docker group, as colleagues are).
        docker_gid = grp.getgrnam("docker").gr_gid
        second = subprocess.run(
            ["/usr/bin/python3", "-m", "gunicorn_tui", "scale", name, "+1", "--yes"],
            env={
                "PATH": "/usr/bin:/bin",
                "HOME": str(nobody_home),
                "PYTHONPATH": pythonpath_for(
                    NOBODY, NOBODY, [ROOT, Path(SITE)], nobody_home / "code"
                ),
                "GTUI_STATE_DIR": str(nobody_home / "state"),
            },
            user=NOBODY,
            group=NOBODY,
            extra_groups=[docker_gid],
            cwd=nobody_home,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1, second.stdout + second.stderr
        assert f"another action is in progress (reload by pid {first.pid}, user root" in (
            second.stderr
        )

        # Another host: its own host lock is free; the engine's lock stops it.
        third = run_gtui(
            "scale", name, "+1", "--yes",
            env={"GTUI_STATE_DIR": str(tmp_path / "other"), "GTUI_LOCK_DIR": str(tmp_path / "l")},
        )  # fmt: skip
        assert third.returncode == 1, third.stdout + third.stderr
        assert f"reload by pid {first.pid}" in third.stderr
        assert f"docker rm {LOCK_PREFIX}{name}" in third.stderr
    finally:
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, out + err
    assert serves(port) and worker_count(container) == 2  # neither scale ran
    # Released: no lock left on the engine.
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(LOCK_PREFIX + name)


def test_a_rollback_never_removes_a_container_gtui_did_not_create(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, state_dir: Path
) -> None:
    container, port = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "-w", "2")
    name = container.name or ""
    engine = ControlEngine(state_directory=state_dir, docker_client=docker_client)
    plan = engine.plan_retune(sample_of(name), RetuneRequest(workers=3, timeout=46))
    assert plan.strategy is Strategy.RECREATE and plan.temporary_name, plan.describe()
    # Someone else's container takes the temporary name after the plan was made.
    foreign = docker_client.containers.create(
        tags.PLAIN, name=plan.temporary_name, labels=container_factory.labels()
    )
    outcome = engine.execute(plan)
    assert not outcome.ok
    assert docker_client.containers.get(plan.temporary_name).id == foreign.id
    assert docker_client.containers.get(name).id == container.id
    assert worker_count(container) == 2 and serves(port)


def test_recover_refuses_a_journal_of_another_engine(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, state_dir: Path
) -> None:
    container, port = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "-w", "2")
    name = container.name or ""
    # Killed right after the old container was stopped: the service is down.
    killed = run_crashing_gtui(3, "retune", name, "-w", "3", "--timeout", "47", "--yes")
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    (pending,) = JournalStore(state_dir).pending()
    info = docker_client.info()
    assert pending.data["engine_id"] == f"{info['ID']} {info['Name']} {info['DockerRootDir']}"

    other = ThrowawayDockerd()
    try:
        other.start()
        refused = run_gtui("recover", env={"DOCKER_HOST": other.host})
    finally:
        other.close()
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "refused" in refused.stdout and "written for engine" in refused.stdout
    assert [j.id for j in JournalStore(state_dir).pending()] == [pending.id]

    recovered = run_gtui("recover")
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert JournalStore(state_dir).pending() == []
    assert serves(port)
