"""A test session killed before its teardown leaves a second dockerd and an
sshd running; the next session stops them (tests/harness/remote_hosts.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import docker
import psutil

from tests.harness.remote_hosts import remove_leftovers

REPO = Path(__file__).resolve().parents[2]

_CHILD = """
import docker, sys, time
from tests.harness.remote_hosts import SecondEngine, SshServer
engine = SecondEngine((), docker.from_env())
sshd = SshServer("leftover", {"DOCKER_HOST": engine.url})
print(engine._process.pid, sshd._process.pid, engine.dir, engine.data_root, sshd.dir, flush=True)
time.sleep(600)
"""


def test_leftover_engines_and_sshds_are_removed(docker_client: docker.DockerClient) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD], cwd=REPO, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert child.stdout is not None
    dockerd_pid, sshd_pid, engine_dir, data_root, sshd_dir = child.stdout.readline().split()
    dockerd = psutil.Process(int(dockerd_pid))
    helpers = dockerd.children(recursive=True)  # its containerd
    sshd = psutil.Process(int(sshd_pid))
    child.send_signal(signal.SIGKILL)  # no teardown
    child.wait(timeout=10)
    assert dockerd.is_running() and sshd.is_running()

    removed = remove_leftovers()

    assert engine_dir in removed and sshd_dir in removed
    _gone, alive = psutil.wait_procs([dockerd, sshd, *helpers], timeout=30)
    assert not alive, alive
    assert not Path(engine_dir).exists() and not Path(data_root).exists()
    assert not Path(sshd_dir).exists()
    assert engine_dir not in Path("/proc/self/mounts").read_text()
