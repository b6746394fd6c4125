"""Writes into a container stay in it, and what gtui did not write is never replaced.

Real containers on the local engine (files reached through /proc/PID/root)
and through the engine's API only:

- an app directory that is an absolute symlink: on the host the same path
  exists, and not one byte may land there;
- a ``gunicorn.conf.py`` that is a FIFO or a dangling symlink counts as the
  operator's file: nothing blocks, nothing is replaced;
- an app directory bind-mounted from the host is not written into unless
  ``--allow-bind-mount`` says so, and the plan says why;
- a file that appears between the plan and the step is left alone.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from docker.models.containers import Container

from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.control.planning.managed_config import MARKER, candidate_path
from gunicorn_tui.control.planning.plan import Strategy
from gunicorn_tui.control.planning.requests import RetuneRequest
from tests.control.helpers import (
    gunicorn_container,
    read_file,
    run_gtui,
    sample_of,
    serves,
    show_config,
)
from tests.harness.containers import ContainerFactory
from tests.harness.loopback import free_port
from tests.images import tags

pytestmark = pytest.mark.slow


def _engine(state_dir: Path, client: docker.DockerClient) -> ControlEngine:
    return ControlEngine(state_directory=state_dir, docker_client=client)


def _exec(container: Container, *argv: str) -> str:
    result = container.exec_run(list(argv))
    assert result.exit_code == 0, result.output
    return result.output.decode() if isinstance(result.output, bytes) else ""


@pytest.fixture
def host_twin() -> Iterator[Path]:
    """A host directory with the same path as the container's app directory."""
    path = Path(tempfile.mkdtemp(prefix="gtui-escape-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _tar(*members: tarfile.TarInfo) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for member in members:
            archive.addfile(member)
    return buffer.getvalue()


def _entry(name: str, kind: bytes, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname = kind, 0o755, target
    return info


@pytest.mark.parametrize("api_only", [False, True], ids=["local", "api-only"])
def test_an_app_directory_that_is_an_absolute_symlink_never_leads_to_the_host(
    container_factory: ContainerFactory,
    docker_client: docker.DockerClient,
    state_dir: Path,
    host_twin: Path,
    api_only: bool,
) -> None:
    # In the container /srv/app -> /tmp/gtui-escape-XXXX (its own directory);
    # the host has a directory with that path too. Gunicorn starts in /srv/app
    # and changes directory (--chdir), so gtui writes its config file where
    # the master started: /srv/app/gunicorn.conf.py.
    port = free_port()
    api = docker_client.api
    created = api.create_container(
        tags.GUNICORN_LATEST,
        command=[
            "gunicorn", "--chdir", str(host_twin), "--pythonpath", "/app", "-w", "2",
            "-b", f"127.0.0.1:{port}", "app:app",
        ],
        working_dir="/srv/app",
        labels=container_factory.labels(),
        name=f"gtui-test-link-{uuid.uuid4().hex[:8]}",
        host_config=api.create_host_config(network_mode="host"),
    )  # fmt: skip
    container_id = created["Id"]
    api.put_archive(
        container_id,
        "/",
        _tar(
            _entry(str(host_twin).lstrip("/"), tarfile.DIRTYPE),
            _entry("srv", tarfile.DIRTYPE),
            _entry("srv/app", tarfile.SYMTYPE, str(host_twin)),
        ),
    )
    api.start(container_id)
    container = docker_client.containers.get(container_id)
    container_factory.wait_http(container, port)

    engine = ControlEngine(state_directory=state_dir, docker_client=docker_client)
    sample = sample_of(container.name or "", force_api=api_only, control_socket=not api_only)
    plan = engine.plan_retune(sample, RetuneRequest(timeout=41))
    assert plan.strategy is Strategy.HUP_WITH_CONFIG, plan.describe()
    assert any("/srv/app/gunicorn.conf.py" in line for line in plan.describe())
    outcome = engine.execute(plan)
    assert outcome.ok, outcome.summary()
    assert show_config(container)["timeout"] == 41 and serves(port)
    # Written inside the container (where the link leads there) ...
    written = read_file(container, f"{host_twin}/gunicorn.conf.py")
    assert written is not None and written.startswith(MARKER)
    # ... and not one byte on the host.
    assert list(host_twin.iterdir()) == []


@pytest.mark.parametrize("kind", ["fifo", "dangling symlink"])
def test_a_config_file_that_is_not_a_regular_file_is_the_operators(
    container_factory: ContainerFactory,
    docker_client: docker.DockerClient,
    state_dir: Path,
    kind: str,
) -> None:
    container, port = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "-w", "2")
    # Planted after Gunicorn started (it would itself block on the FIFO).
    if kind == "fifo":
        _exec(container, "mkfifo", "/app/gunicorn.conf.py")
    else:
        _exec(container, "ln", "-s", "/nonexistent/operator.conf.py", "/app/gunicorn.conf.py")
    before = _exec(container, "ls", "-l", "/app/gunicorn.conf.py")

    result = run_gtui(
        "retune", container.name or "", "--timeout", "41", "--yes",
        env={"GTUI_STATE_DIR": str(state_dir)}, timeout_s=60,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    what = "not a regular file" if kind == "fifo" else "a symlink to /nonexistent/operator.conf.py"
    assert f"/app/gunicorn.conf.py is {what}" in result.stdout
    # A re-create would drop it with the container's layer: refused as well.
    assert "--discard-changes" in result.stdout
    assert _exec(container, "ls", "-l", "/app/gunicorn.conf.py") == before
    assert read_file(container, candidate_path("/app/gunicorn.conf.py")) is None
    assert show_config(container)["timeout"] == 30 and serves(port)


def test_a_bind_mounted_app_directory_is_written_only_when_allowed(
    container_factory: ContainerFactory,
    docker_client: docker.DockerClient,
    state_dir: Path,
    tmp_path: Path,
) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    port = free_port()
    container = container_factory.start(
        tags.GUNICORN_LATEST,
        ["gunicorn", "--pythonpath", "/app", "-w", "2", "-b", f"127.0.0.1:{port}", "app:app"],
        working_dir="/srv/site",
        volumes={str(checkout): {"bind": "/srv/site", "mode": "rw"}},
    )
    container_factory.wait_http(container, port)
    (checkout / "README").write_text("a developer's checkout\n")
    before = {path.name: path.read_bytes() for path in checkout.iterdir()}

    allowed = run_gtui(
        "retune", container.name or "", "--timeout", "43", "--allow-bind-mount", "--dry-run",
        env={"GTUI_STATE_DIR": str(state_dir)},
    )  # fmt: skip
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "strategy: reload (HUP) with a gtui config file" in allowed.stdout
    assert "(allowed by --allow-bind-mount)" in allowed.stdout

    engine = _engine(state_dir, docker_client)
    sample = sample_of(container.name or "", control_socket=True)
    plan = engine.plan_retune(sample, RetuneRequest(timeout=42))
    # Not in place (that would write into the host's directory): re-created.
    assert plan.strategy is Strategy.RECREATE, plan.describe()
    assert any("bind mount of the host's" in note for note in plan.notes), plan.notes
    assert any("--allow-bind-mount" in note for note in plan.notes)
    outcome = engine.execute(plan)
    assert outcome.ok, outcome.summary()
    after = {path.name: path.read_bytes() for path in checkout.iterdir()}
    assert "gunicorn.conf.py" not in after
    assert {k: v for k, v in after.items() if k != "__pycache__"} == before


def test_a_file_that_appears_after_the_plan_is_left_alone(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, state_dir: Path
) -> None:
    container, port = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "-w", "2")
    engine = _engine(state_dir, docker_client)
    plan = engine.plan_retune(
        sample_of(container.name or "", control_socket=True), RetuneRequest(timeout=44)
    )
    assert plan.strategy is Strategy.HUP_WITH_CONFIG, plan.describe()
    # The confirm dialog stayed open; meanwhile the operator wrote a config file.
    operators = "workers = 2\n# the operator file\n"
    _exec(container, "sh", "-c", f"printf '{operators}' > /app/gunicorn.conf.py")

    outcome = engine.execute(plan)
    assert not outcome.ok
    assert outcome.error is not None and "appeared since the plan was made" in outcome.error
    assert read_file(container, "/app/gunicorn.conf.py") == operators
    assert read_file(container, candidate_path("/app/gunicorn.conf.py")) is None
    assert show_config(container)["timeout"] == 30 and serves(port)
