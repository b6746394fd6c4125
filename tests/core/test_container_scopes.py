"""Container scopes in /proc/PID/cgroup, by runtime: Docker, Podman, and the
CRI runtimes of Kubernetes nodes (named and watched, never acted on).

The cgroup lines are as these runtimes write them (systemd and cgroupfs
drivers, v1 and v2). The live test moves a real Gunicorn on this host into a
real cgroup named as containerd's CRI plugin names it: no kubelet runs here,
which is why the scope is made by hand.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gunicorn_tui.host.host_processes import scope_of_cgroup_lines
from tests.core.monitor_waits import run_gtui
from tests.harness.local_gunicorn import LocalGunicornFactory

ID = "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("line", "runtime"),
    [
        (f"4:memory:/docker/{ID}", "docker"),
        (f"0::/system.slice/docker-{ID}.scope", "docker"),
        (f"4:memory:/libpod_parent/libpod-{ID}", "podman"),
        (f"0::/machine.slice/libpod-{ID}.scope/container", "podman"),
        (
            f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podx.slice/cri-containerd-{ID}.scope",
            "cri-containerd",
        ),
        (f"0::/kubepods.slice/kubepods-pody.slice/crio-{ID}.scope", "crio"),
        (f"4:memory:/kubepods/burstable/pod1234/{ID}", "cri"),
    ],
)
def test_scope_runtime_and_id(line: str, runtime: str) -> None:
    assert scope_of_cgroup_lines([line]) == (runtime, ID)


def test_no_scope() -> None:
    assert scope_of_cgroup_lines(["0::/user.slice/user-0.slice/session-1.scope"]) is None
    assert scope_of_cgroup_lines([f"0::/system.slice/crio-conmon-{ID[:10]}.scope"]) is None


V1_CONTROLLERS = ("cpu", "cpuacct", "memory", "pids")


@pytest.fixture
def cri_scope() -> Iterator[tuple[str, list[Path]]]:
    """A cgroup (v1 controllers this machine mounts) named like containerd's CRI plugin's."""
    if os.geteuid() != 0:
        pytest.skip("making a cgroup needs root")
    container_id = uuid.uuid4().hex + uuid.uuid4().hex
    made: list[Path] = []
    for controller in V1_CONTROLLERS:
        root = Path("/sys/fs/cgroup") / controller
        if not (root / "cgroup.procs").exists():
            continue
        directory = root / "gtui-test-kubepods" / f"cri-containerd-{container_id}.scope"
        directory.mkdir(parents=True, exist_ok=True)
        made.append(directory)
    if not made:
        pytest.skip("no cgroup v1 controllers mounted here")
    try:
        yield container_id, made
    finally:
        for directory in made:
            root = directory.parents[1]
            for pid in (directory / "cgroup.procs").read_text().split():
                with contextlib.suppress(OSError):
                    (root / "cgroup.procs").write_text(pid)
            for path in (directory, directory.parent):
                with contextlib.suppress(OSError):
                    path.rmdir()


def test_a_kubernetes_container_is_named_and_watched_only(
    local_gunicorn: LocalGunicornFactory, cri_scope: tuple[str, list[Path]]
) -> None:
    container_id, directories = cri_scope
    server = local_gunicorn.start("--workers", "1")
    # The master and its worker move into the scope, as a pod's processes are.
    pids = [str(server.pid)] + [
        line for line in Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    ]
    for directory in directories:
        for pid in pids:
            (directory / "cgroup.procs").write_text(pid)
    done = run_gtui("snapshot", f"pid:{server.pid}", "--json")
    assert done.returncode == 0, done.stderr
    (instance,) = json.loads(done.stdout)["instances"]
    assert instance["container"]["name"] == f"cri-containerd:{container_id[:12]}"
    assert instance["container"]["watch_only"].startswith("run by Kubernetes")
    refused = run_gtui("scale", f"pid:{server.pid}", "=2", "--yes")
    assert refused.returncode == 1
    assert "run by Kubernetes" in refused.stdout + refused.stderr
