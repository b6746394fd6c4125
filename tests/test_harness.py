"""The test harness itself: images, fixtures and helpers do what they claim.

Docker tests run real containers from the locally built test images; the host
tests run a real Gunicorn. Pure helpers are checked with data.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from importlib.metadata import version as installed_version
from pathlib import Path

import docker
import psutil
import pytest
from docker.errors import NotFound
from docker.models.containers import Container

from tests.harness.containers import (
    FACTORY_LABEL,
    OWNER_PID_LABEL,
    OWNER_STARTED_LABEL,
    TEST_LABEL,
    ContainerFactory,
    owner_alive,
    owner_labels,
    remove_leftover_containers,
)
from tests.harness.docker_access import docker_required, docker_unavailable
from tests.harness.local_gunicorn import LocalGunicornFactory
from tests.harness.loopback import free_port, wait_http
from tests.images import tags
from tests.images.build import (
    ImageSpec,
    debian_mirror,
    inputs_hashes,
    rewrite_shebangs,
)

# --- pure helpers, checked with data ---------------------------------------

DEB822_AS_ON_THIS_MACHINE = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
"""


def test_mirror_is_read_from_deb822_sources_skipping_disabled_files() -> None:
    sources = [
        ("sources.list", ""),
        ("aaa.list.disabled-by-farm", "deb http://disabled.example/debian bookworm main\n"),
        ("debian.sources", DEB822_AS_ON_THIS_MACHINE),
    ]
    assert debian_mirror(sources) == "http://deb.debian.org/debian"


def test_mirror_skips_entries_that_are_disabled_source_only_or_other_suites() -> None:
    text = """\
Types: deb
URIs: http://off.example/debian
Suites: bookworm
Enabled: no

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security

Types: deb
URIs: mirror+file:/etc/apt/mirrors.txt https://good.example/debian
Suites: bookworm
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 -----END PGP PUBLIC KEY BLOCK-----
"""
    assert debian_mirror([("x.sources", text)]) == "https://good.example/debian"


def test_mirror_is_read_from_one_line_sources_with_options() -> None:
    text = """\
# deb http://commented.example/debian bookworm main
deb-src http://src.example/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://one.example/debian bookworm main
"""
    assert debian_mirror([("sources.list", text)]) == "http://one.example/debian"
    assert debian_mirror([("sources.list", text)], suite="trixie") is None


def test_shebangs_from_pip_target_point_at_the_image_python(tmp_path: Path) -> None:
    plain = tmp_path / "gunicorn"
    plain.write_text("#!/root/.pyenv/versions/3.11.7/bin/python3.11\nimport sys\n")
    trampoline = tmp_path / "long"
    trampoline.write_text(
        "#!/bin/sh\n'''exec' \"/very/long/path/bin/python3.11\" \"$0\" \"$@\"\n' '''\nimport sys\n"
    )
    shell = tmp_path / "helper.sh"
    shell.write_text("#!/bin/sh\necho hi\n")
    data = tmp_path / "README"
    data.write_text("not a script\n")

    changed = rewrite_shebangs(tmp_path)

    assert changed == ["gunicorn", "long"]
    assert plain.read_text() == "#!/usr/bin/python3\nimport sys\n"
    assert trampoline.read_text() == "#!/usr/bin/python3\nimport sys\n"
    assert shell.read_text() == "#!/bin/sh\necho hi\n"
    assert data.read_text() == "not a script\n"


def test_inputs_hash_follows_copied_files_and_parents(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text("app = 1\n")
    parent = ImageSpec("t/parent:1", tags.BASE, ("gunicorn",), (("app.py", app),), "FROM x\n")
    child = ImageSpec("t/child:1", "t/parent:1", (), (), "FROM t/parent:1\n")
    before = inputs_hashes([parent, child])
    assert inputs_hashes([parent, child]) == before

    app.write_text("app = 2\n")
    after = inputs_hashes([parent, child])

    assert after[tags.BASE] == before[tags.BASE]
    assert after["t/parent:1"] != before["t/parent:1"]
    assert after["t/child:1"] != before["t/child:1"]


def test_docker_requirement_turns_a_skip_into_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("GTUI_REQUIRE_DOCKER", raising=False)
    assert not docker_required()
    with pytest.raises(pytest.skip.Exception):
        docker_unavailable("no engine")

    monkeypatch.setenv("CI", "true")
    assert docker_required()
    with pytest.raises(pytest.fail.Exception, match="no engine"):
        docker_unavailable("no engine")

    monkeypatch.setenv("CI", "false")
    monkeypatch.setenv("GTUI_REQUIRE_DOCKER", "1")
    assert docker_required()


def _dead_process_labels() -> dict[str, str]:
    """Owner labels of a process that has since exited."""
    process = subprocess.Popen(["sleep", "60"])
    started = psutil.Process(process.pid).create_time()
    process.kill()
    process.wait()
    return {
        TEST_LABEL: "1",
        OWNER_PID_LABEL: str(process.pid),
        OWNER_STARTED_LABEL: f"{started:.3f}",
    }


def test_owner_liveness_uses_pid_and_start_time() -> None:
    mine = owner_labels()
    assert owner_alive(mine) is True
    # Same pid, but started a minute earlier: the pid was reused.
    reused = {**mine, OWNER_STARTED_LABEL: f"{float(mine[OWNER_STARTED_LABEL]) - 60:.3f}"}
    assert owner_alive(reused) is False
    assert owner_alive(_dead_process_labels()) is False
    assert owner_alive({TEST_LABEL: "1"}) is None
    assert owner_alive({OWNER_PID_LABEL: "not-a-pid"}) is None


# --- Gunicorn on the host ---------------------------------------------------


def test_local_gunicorn_serves_then_stops_with_its_workers(
    local_gunicorn: LocalGunicornFactory,
) -> None:
    server = local_gunicorn.start("--workers", "2")

    response = wait_http(server.port, "/health", timeout_s=5)
    assert response.status_code == 200
    master = psutil.Process(server.pid)
    # The first worker may answer while the second still boots.
    deadline = time.monotonic() + 15
    while len(workers := master.children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(workers) == 2
    # The request was answered by a worker, not by the master.
    assert response.json()["pid"] in {worker.pid for worker in workers}
    assert "Booting worker" in server.log_text()

    local_gunicorn.stop(server)

    _gone, alive = psutil.wait_procs([master, *workers], timeout=5)
    assert alive == []
    assert server.process.returncode is not None


def test_local_gunicorn_control_socket_is_private_to_the_server(
    local_gunicorn: LocalGunicornFactory,
) -> None:
    host_version = installed_version("gunicorn")
    if tuple(int(part) for part in host_version.split(".")[:2]) < (25, 1):
        pytest.skip(f"gunicorn {host_version} on the host has no control socket")
    server = local_gunicorn.start()
    deadline = time.monotonic() + 10
    while not server.control_socket_path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.control_socket_path.is_socket()


def test_local_gunicorn_reports_a_server_that_cannot_boot(
    local_gunicorn: LocalGunicornFactory,
) -> None:
    with pytest.raises(AssertionError, match="exited"):
        local_gunicorn.start(app="no_such_module:app", timeout_s=15)


# --- the test images --------------------------------------------------------


def _gunicorn_command(image: str, port: int, *args: str) -> list[str]:
    argv = ["--bind", f"127.0.0.1:{port}", *args, "app:app"]
    # The shell image's entrypoint runs gunicorn itself and takes its arguments.
    return argv if image == tags.GUNICORN_SHELL else ["gunicorn", *argv]


def _processes(container: Container) -> list[tuple[int, int, str]]:
    """(host pid, host ppid, command line) of each process in the container."""
    top = container.top()
    titles = top["Titles"]
    pid_at, ppid_at, cmd_at = titles.index("PID"), titles.index("PPID"), titles.index("CMD")
    return [(int(row[pid_at]), int(row[ppid_at]), row[cmd_at]) for row in top["Processes"]]


def _ns_pid(host_pid: int) -> int:
    """The pid a process has inside its own (innermost) pid namespace."""
    for line in Path(f"/proc/{host_pid}/status").read_text().splitlines():
        if line.startswith("NSpid:"):
            return int(line.split()[-1])
    raise AssertionError(f"no NSpid line for pid {host_pid}")


def _exec(container: Container, *argv: str) -> tuple[int, str]:
    result = container.exec_run(list(argv))
    output = result.output
    assert isinstance(output, bytes) and result.exit_code is not None
    return result.exit_code, output.decode(errors="replace")


@pytest.mark.parametrize(
    "image",
    [tags.GUNICORN_LATEST, tags.GUNICORN_NO_SETPROCTITLE, tags.GUNICORN_SHELL, tags.GUNICORN_20],
)
def test_each_gunicorn_image_serves_the_sample_app_on_loopback(
    container_factory: ContainerFactory, image: str
) -> None:
    port = free_port()
    container = container_factory.start(image, _gunicorn_command(image, port))

    response = container_factory.wait_http(container, port, "/health")

    assert response.status_code == 200
    assert response.json()["ok"] is True
    assert container_factory.wait_http(container, port, "/status/503").status_code == 503
    assert container.attrs["HostConfig"]["NetworkMode"] == "host"


@pytest.mark.parametrize(
    ("image", "entrypoint", "command_prefix", "master_is_pid_1"),
    [
        (tags.GUNICORN_LATEST, None, [], True),
        (tags.GUNICORN_SHELL, None, [], False),
        (tags.GUNICORN_LATEST, None, ["tini", "--"], False),
        (tags.GUNICORN_LATEST, ["sh", "-c", 'gunicorn "$@"; exit $?', "sh"], [], False),
    ],
    ids=["exec-form", "shell-entrypoint", "tini", "sh-c"],
)
def test_master_is_pid_1_only_when_gunicorn_is_the_entrypoint(
    container_factory: ContainerFactory,
    image: str,
    entrypoint: list[str] | None,
    command_prefix: list[str],
    master_is_pid_1: bool,
) -> None:
    port = free_port()
    command = _gunicorn_command(image, port)
    if entrypoint is not None:
        command = command[1:]  # "$@" of the sh -c script starts after "gunicorn"
    container = container_factory.start(image, [*command_prefix, *command], entrypoint=entrypoint)
    container_factory.wait_http(container, port)

    masters = [pid for pid, _, cmd in _processes(container) if cmd.startswith("gunicorn: master")]
    assert len(masters) == 1
    assert (_ns_pid(masters[0]) == 1) is master_is_pid_1
    container.reload()
    assert (container.attrs["State"]["Pid"] == masters[0]) is master_is_pid_1


@pytest.mark.parametrize(
    ("image", "titled"),
    [(tags.GUNICORN_LATEST, True), (tags.GUNICORN_NO_SETPROCTITLE, False)],
)
def test_process_titles_come_from_setproctitle_only_where_installed(
    container_factory: ContainerFactory, image: str, titled: bool
) -> None:
    port = free_port()
    container = container_factory.start(image, _gunicorn_command(image, port, "--workers", "2"))
    container_factory.wait_http(container, port)
    # Workers boot one after the other; give the second a moment to appear.
    deadline = time.monotonic() + 10
    while len(processes := _processes(container)) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)

    commands = [cmd for _, _, cmd in processes]
    masters = [cmd for cmd in commands if cmd == "gunicorn: master [app:app]"]
    workers = [cmd for cmd in commands if cmd == "gunicorn: worker [app:app]"]
    if titled:
        assert (len(masters), len(workers)) == (1, 2), commands
    else:
        assert masters == workers == []
        plain = [cmd for cmd in commands if f"{tags.SITE_DIR}/bin/gunicorn" in cmd]
        assert len(plain) == 3, commands


def test_gevent_imports_in_latest_and_is_missing_without_it(
    container_factory: ContainerFactory,
) -> None:
    latest = container_factory.start(tags.GUNICORN_LATEST, ["sleep", "60"])
    bare = container_factory.start(tags.GUNICORN_NO_SETPROCTITLE, ["sleep", "60"])
    probe = "import gevent, packaging; print(gevent.__version__)"

    code, output = _exec(latest, "python3", "-c", probe)
    assert code == 0, output
    code, output = _exec(bare, "python3", "-c", probe)
    assert code != 0
    assert "No module named 'gevent'" in output


@pytest.mark.parametrize(
    ("image", "worker_args", "boots"),
    [
        (tags.GUNICORN_LATEST, ["-k", "gevent"], True),
        (tags.GUNICORN_LATEST, ["-k", "gthread", "--threads", "4"], True),
        (tags.GUNICORN_NO_SETPROCTITLE, ["-k", "gevent"], False),
    ],
    ids=["gevent", "gthread", "gevent-missing"],
)
def test_worker_classes_boot_only_where_their_library_is(
    container_factory: ContainerFactory, image: str, worker_args: list[str], boots: bool
) -> None:
    port = free_port()
    container = container_factory.start(image, _gunicorn_command(image, port, *worker_args))
    if boots:
        assert container_factory.wait_http(container, port, "/io?ms=5").status_code == 200
        return
    status = container.wait(timeout=60)
    assert status["StatusCode"] != 0
    logs = container.logs().decode(errors="replace")
    assert "gevent" in logs


def test_gunicorn_20_image_reports_version_20_1_0(container_factory: ContainerFactory) -> None:
    container = container_factory.start(tags.GUNICORN_20, ["sleep", "60"])

    code, output = _exec(container, "gunicorn", "--version")
    assert code == 0, output
    assert "20.1.0" in output
    code, output = _exec(
        container, "python3", "-c", "import gunicorn, json; print(json.dumps(gunicorn.__version__))"
    )
    assert (code, json.loads(output.strip().splitlines()[-1])) == (0, "20.1.0")


def test_plain_image_has_no_gunicorn(container_factory: ContainerFactory) -> None:
    container = container_factory.start(tags.PLAIN)

    code, output = _exec(container, "python3", "-c", "import gunicorn")
    assert code != 0
    assert "No module named 'gunicorn'" in output
    assert [cmd for _, _, cmd in _processes(container)] == ["sleep infinity"]


# --- container ownership and cleanup ----------------------------------------


def test_factory_removes_its_containers_and_their_recreations(
    docker_client: docker.DockerClient, test_images: tuple[str, ...]
) -> None:
    factory = ContainerFactory(docker_client)
    started = factory.start(tags.PLAIN)
    # What a retune does: a new container created with the old one's labels.
    recreated = docker_client.containers.create(
        tags.PLAIN, name=f"{started.name}-new", labels=dict(started.labels), network_mode="host"
    )
    assert (started.name or "").startswith("gtui-test-")
    assert started.labels[FACTORY_LABEL] == factory.factory_id

    factory.close()

    for container in (started, recreated):
        with pytest.raises(NotFound):
            container.reload()


def test_leftovers_of_dead_owners_are_removed_and_live_owners_kept(
    docker_client: docker.DockerClient, test_images: tuple[str, ...]
) -> None:
    suffix = f"{time.monotonic_ns()}"
    orphan = docker_client.containers.create(
        tags.PLAIN, name=f"gtui-test-orphan-{suffix}", labels=_dead_process_labels()
    )
    owned = docker_client.containers.create(
        tags.PLAIN, name=f"gtui-test-owned-{suffix}", labels=owner_labels()
    )
    try:
        removed = remove_leftover_containers(docker_client)

        assert orphan.name in removed
        assert owned.name not in removed
        with pytest.raises(NotFound):
            orphan.reload()
        owned.reload()
    finally:
        for container in (orphan, owned):
            with contextlib.suppress(NotFound):
                container.remove(force=True, v=True)
