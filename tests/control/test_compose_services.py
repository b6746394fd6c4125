"""Compose services with replicas: one target, rolled one replica at a time.

A real Compose project (Debian's docker-compose v1, ``--scale``) on the real
engine, ports published on 127.0.0.1 by the engine. Nothing is faked.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.core.monitor_waits import run_gtui, sample_until
from tests.harness.compose import ComposeProject
from tests.harness.containers import ContainerFactory
from tests.images import tags

ACTION_TIMEOUT_S = 300.0


@pytest.fixture
def project(container_factory: ContainerFactory, tmp_path: Path) -> Iterator[ComposeProject]:
    project = ComposeProject(container_factory, tmp_path, "")
    project.file.write_text(
        f"""version: "2.4"
services:
  web:
    image: {tags.GUNICORN_LATEST}
    # the replicas' settings live here
    command: ["gunicorn", "--bind", "0.0.0.0:8000", "-w", "2", "app:app"]
    ports:
      - "127.0.0.1::8000"
    labels:
{project.labels_yaml()}
"""
    )
    try:
        yield project
    finally:
        project.down()


def _snapshot(target: str, replicas: int | None = None) -> list[dict[str, object]]:
    """The service's instances by replica number; with ``replicas``, once
    that many masters are up (a replica just started may still be booting)."""
    deadline = time.monotonic() + 60
    while True:
        done = run_gtui("snapshot", target, "--json")
        assert done.returncode == 0, done.stderr
        instances = json.loads(done.stdout)["instances"]
        assert isinstance(instances, list)
        if replicas is None or len(instances) >= replicas or time.monotonic() > deadline:
            return sorted(instances, key=lambda i: i["container"]["compose"]["number"])
        time.sleep(0.5)


def _wait_serving(instances: list[dict[str, object]]) -> None:
    for instance in instances:
        url = instance["reach"]["url"]  # type: ignore[index]
        assert url.startswith("http://127.0.0.1:"), url
        for _ in range(120):
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        else:
            raise AssertionError(f"{url} never served")


def test_service_target_rolls_a_retune_over_every_replica(project: ComposeProject) -> None:
    names = project.up("web", 3)
    service = f"{project.name}/web"
    instances = _snapshot(service, 3)
    assert [i["container"]["name"] for i in instances] == names  # type: ignore[index]
    for number, instance in enumerate(instances, start=1):
        compose = instance["container"]["compose"]  # type: ignore[index]
        assert (compose["project"], compose["service"], compose["number"]) == (
            project.name,
            "web",
            number,
        )
        assert instance["reach"]["how"] == "published port"  # type: ignore[index]
    _wait_serving(instances)

    done = run_gtui(
        "retune", service, "--workers", "3", "--yes", "--json", timeout_s=ACTION_TIMEOUT_S
    )
    assert done.returncode == 0, done.stdout + done.stderr
    roll = json.loads(done.stdout)
    assert roll["ok"] is True
    assert [r["name"] for r in roll["replicas"]] == names
    assert all(r["status"] == "done" for r in roll["replicas"])
    after = _snapshot(service)
    assert [i["workers_current"] for i in after] == [3, 3, 3]
    assert [i["workers_target"] for i in after] == [3, 3, 3]


def test_a_replica_failing_mid_roll_is_rolled_back_and_the_roll_stops(
    project: ComposeProject, container_factory: ContainerFactory
) -> None:
    names = project.up("web", 3)
    service = f"{project.name}/web"
    before = _snapshot(service, 3)
    _wait_serving(before)
    # Replica 2 loses its application module: its new config (a config file
    # and HUP) fails gunicorn --check-config before the master is told,
    # while its running workers keep serving.
    second = container_factory.client.containers.get(names[1])
    assert second.exec_run(["rm", "/app/app.py"]).exit_code == 0

    done = run_gtui(
        "retune", service, "--timeout", "45", "--yes", "--json", timeout_s=ACTION_TIMEOUT_S
    )
    assert done.returncode == 1, done.stdout + done.stderr
    roll = json.loads(done.stdout)
    assert [r["status"] for r in roll["replicas"]] == ["done", "failed", "not started"]
    assert "stopped at" in roll["summary"]
    after = _snapshot(service)
    assert [i["config"]["timeout"]["value"] for i in after] == [45, 30, 30]  # type: ignore[index]
    # Every replica still serves.
    _wait_serving(after)


def test_relative_scale_is_refused_when_replicas_disagree(project: ComposeProject) -> None:
    names = project.up("web", 2)
    service = f"{project.name}/web"
    _wait_serving(_snapshot(service, 2))
    done = run_gtui("scale", names[0], "=3", "--yes", timeout_s=ACTION_TIMEOUT_S)
    assert done.returncode == 0, done.stdout + done.stderr
    refused = run_gtui("scale", service, "+1", "--yes", timeout_s=ACTION_TIMEOUT_S)
    assert refused.returncode == 2
    (line,) = refused.stderr.strip().splitlines()
    assert "replicas disagree" in line and "workers" in line
    done = run_gtui("scale", service, "=4", "--yes", "--json", timeout_s=ACTION_TIMEOUT_S)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["ok"] is True
    assert [i["workers_current"] for i in _snapshot(service)] == [4, 4]


def test_unknown_service_is_a_one_line_error() -> None:
    done = run_gtui("snapshot", "no-such-project/web")
    assert done.returncode == 3
    assert "no running container of Compose service no-such-project/web" in done.stderr
    bad = run_gtui("snapshot", "web/")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "expected PROJECT/SERVICE" in bad.stderr


def _dashboard_warns(service: str) -> None:
    """The dashboard's check (SourceDriftWatch) says the config would be lost."""
    from gunicorn_tui.control.engine import ControlEngine
    from gunicorn_tui.persist.source_watch import SourceDriftWatch
    from tests.core.monitor_waits import open_monitor

    with open_monitor(service) as monitor:
        frame = sample_until(monitor, lambda f: len(f.instances) == 2, 30, what="two replicas")
        client = monitor.watcher.client if monitor.watcher is not None else None
        watch = SourceDriftWatch(ControlEngine(docker_client=client).facts)
        watch.observe(frame.instances)
        deadline = time.monotonic() + 60
        keys = [sample.key for sample in frame.instances]
        while not all(watch.warning(key) for key in keys):
            assert time.monotonic() < deadline, [watch.warning(key) for key in keys]
            time.sleep(0.2)
        assert "lost on next `compose up`" in (watch.warning(keys[0]) or "")
        assert "timeout" in (watch.warning(keys[0]) or "")


def test_persist_writes_the_retuned_config_into_the_compose_file(project: ComposeProject) -> None:
    project.up("web", 2)
    service = f"{project.name}/web"
    _wait_serving(_snapshot(service, 2))
    done = run_gtui("persist", service, "--yes")
    assert done.returncode == 0 and "matches its source" in done.stdout, done.stdout + done.stderr

    done = run_gtui("retune", service, "--timeout", "45", "--yes", timeout_s=ACTION_TIMEOUT_S)
    assert done.returncode == 0, done.stdout + done.stderr
    _dashboard_warns(service)
    before = project.file.read_text()
    dry = run_gtui("persist", service, "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "timeout: source 30, running 45" in dry.stdout
    assert project.file.read_text() == before

    done = run_gtui("persist", service, "--yes", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(done.stdout)
    assert document["written"] is True and document["path"] == str(project.file)
    after = project.file.read_text()
    changed = [
        (a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b
    ]
    assert changed == [
        (
            '    command: ["gunicorn", "--bind", "0.0.0.0:8000", "-w", "2", "app:app"]',
            '    command: ["gunicorn", "--timeout", "45", "--bind", "0.0.0.0:8000", "-w", "2", '
            '"app:app"]',
        )
    ]
    # The next re-create from the file keeps the winner.
    project.run("up", "-d", "--scale", "web=2", "--force-recreate")
    recreated = _snapshot(service)
    _wait_serving(recreated)
    assert [i["config"]["timeout"]["value"] for i in recreated] == [45, 45]  # type: ignore[index]


def test_persist_of_a_plain_docker_run_prints_the_flags(
    container_factory: ContainerFactory,
) -> None:
    from tests.harness.loopback import free_port

    port = free_port()
    container = container_factory.start(
        tags.GUNICORN_LATEST, ["gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1", "app:app"]
    )
    container_factory.wait_http(container, port)
    name = container.name or ""
    done = run_gtui("scale", name, "=2", "--yes", timeout_s=ACTION_TIMEOUT_S)
    assert done.returncode == 0, done.stdout + done.stderr
    done = run_gtui("persist", name, "--yes")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "workers: source 1, running 2" in done.stdout
    assert "--workers 2" in done.stdout


def test_a_recreate_roll_keeps_each_replica_on_its_published_port(
    project: ComposeProject,
) -> None:
    text = project.file.read_text().replace(
        '"-w", "2", "app:app"]', '"-w", "1", "--timeout", "30", "app:app"]'
    )
    project.file.write_text(text)
    project.up("web", 2)
    service = f"{project.name}/web"
    before = _snapshot(service, 2)
    _wait_serving(before)
    # --timeout is on the command line: only a re-create changes it.
    done = run_gtui(
        "retune", service, "--timeout", "45", "--yes", "--discard-changes", "--json",
        timeout_s=ACTION_TIMEOUT_S,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    roll = json.loads(done.stdout)
    assert all(r["outcome"]["new_container_id"] for r in roll["replicas"]), roll
    after = _snapshot(service)
    assert [i["reach"]["url"] for i in after] == [i["reach"]["url"] for i in before]  # type: ignore[index]
    assert [i["container"]["id"] for i in after] != [i["container"]["id"] for i in before]  # type: ignore[index]
    assert [i["config"]["timeout"]["value"] for i in after] == [45, 45]  # type: ignore[index]
    _wait_serving(after)
