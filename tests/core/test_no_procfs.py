"""``gtui ls`` on a system without /proc (macOS): the Docker API alone.

Linux cannot remove /proc, so the test runs gtui in a mount namespace of its
own where /proc is an empty tmpfs (nothing of the host's processes is seen,
as on macOS). Needs root and util-linux ``unshare``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.core.monitor_waits import REPO_ROOT
from tests.harness.containers import ContainerFactory
from tests.harness.loopback import free_port
from tests.images import tags

pytestmark = pytest.mark.docker


def _without_procfs(*args: str) -> subprocess.CompletedProcess[str]:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare to hide /proc")
    command = " ".join([sys.executable, "-m", "gunicorn_tui", *args])
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         f"mount -t tmpfs none /proc && exec {command}"],
        capture_output=True, text=True, timeout=90,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )  # fmt: skip


def test_ls_without_proc_uses_the_docker_api_and_says_so(
    container_factory: ContainerFactory,
) -> None:
    port = free_port()
    container = container_factory.start(
        tags.GUNICORN_LATEST,
        ["gunicorn", "-b", f"127.0.0.1:{port}", "-w", "2", "app:app"],
    )
    container_factory.wait_http(container, port)
    done = _without_procfs("ls", "--statsd", "off", container.name or "")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    notes = [line for line in done.stdout.splitlines() if "/proc" in line]
    assert notes == [
        "note: no /proc here (macOS?): containers are read through the Docker API alone, "
        "host servers are not seen"
    ], done.stdout
    row = next(line for line in done.stdout.splitlines() if line.startswith("docker "))
    assert (container.name or "?") in row and f"127.0.0.1:{port}" in row
