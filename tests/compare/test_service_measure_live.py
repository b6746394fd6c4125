"""A/B and sweeps on a Compose service measure the service as a whole.

A real Compose project (Debian's docker-compose v1, ``--scale 2``), ports
published on 127.0.0.1 by the engine; the load goes to those ports only.
The app's ``/io?ms=100`` sleeps 100 ms, so one sync worker serves about
10 req/s whatever the machine's load: a service of 2 replicas x 1 worker
serves about 20, which only a measurement of both replicas can show.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.control.helpers import wait_worker_count
from tests.core.monitor_waits import run_gtui
from tests.harness.compose import ComposeProject
from tests.harness.containers import ContainerFactory
from tests.images import tags

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 420.0
IO_PROFILE = (
    '[run]\nmode = "closed"\nconcurrency = 8\nduration_s = 1\nconnections = 8\n'
    '[[request]]\npath = "/io?ms=100"\n'
)
LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s %(p)s'


def _compose_text(project: ComposeProject, *extra: str) -> str:
    command = [
        "gunicorn", "--bind", "0.0.0.0:8000", "-w", "1", *extra,
        "--access-logfile", "-", "--access-logformat", LOG_FORMAT, "app:app",
    ]  # fmt: skip
    return f"""version: "2.4"
services:
  web:
    image: {tags.GUNICORN_LATEST}
    command: {json.dumps(command)}
    ports:
      - "127.0.0.1::8000"
    labels:
{project.labels_yaml()}
"""


@pytest.fixture
def project(container_factory: ContainerFactory, tmp_path: Path) -> Iterator[ComposeProject]:
    project = ComposeProject(container_factory, tmp_path, "")
    try:
        yield project
    finally:
        project.down()


def _snapshot(target: str, replicas: int = 2) -> list[dict[str, object]]:
    """The service's instances by replica number, once ``replicas`` masters
    are up (a replica just started or re-created may still be booting)."""
    deadline = time.monotonic() + 60
    while True:
        done = run_gtui("snapshot", target, "--json", timeout_s=120)
        assert done.returncode == 0, done.stderr
        instances = json.loads(done.stdout)["instances"]
        assert isinstance(instances, list)
        if len(instances) >= replicas or time.monotonic() > deadline:
            return sorted(instances, key=lambda i: i["container"]["compose"]["number"])
        time.sleep(0.5)


def _up_and_serving(project: ComposeProject, *extra: str) -> tuple[str, list[str]]:
    project.file.write_text(_compose_text(project, *extra))
    names = project.up("web", 2)
    service = f"{project.name}/web"
    instances = _snapshot(service)
    assert [i["container"]["name"] for i in instances] == names  # type: ignore[index]
    for instance in instances:
        url = instance["reach"]["url"]  # type: ignore[index]
        assert url.startswith("http://127.0.0.1:"), url
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{url} never served"
            time.sleep(0.25)
    return service, names


def _profile(tmp_path: Path) -> Path:
    path = tmp_path / "io.toml"
    path.write_text(IO_PROFILE)
    return path


def _check_service_report(report: dict[str, object], service: str, names: list[str]) -> None:
    block = report["service"]
    assert isinstance(block, dict)
    assert block["name"] == service
    replicas = block["replicas"]
    assert [r["name"] for r in replicas] == names
    urls = [r["url"] for r in replicas]
    assert all(url.startswith("http://127.0.0.1:") for url in urls), urls
    assert len(set(urls)) == 2
    assert block["load_target"] == f"{urls[0]}, {urls[1]} (round-robin)"
    assert block["rolls"], "no switch was rolled over the replicas"
    for roll in block["rolls"]:
        assert roll["ok"] is True, roll
        assert [r["name"] for r in roll["replicas"]] == names


def test_ab_on_a_service_interleaves_rolled_switches_and_sums_the_replicas(
    project: ComposeProject, tmp_path: Path
) -> None:
    service, names = _up_and_serving(project)
    done = run_gtui(
        "ab", service, "--profile", str(_profile(tmp_path)), "--workers", "3",
        "--cap", "90", "--yes", "--json",
        env={"GTUI_STATE_DIR": str(tmp_path / "state")}, timeout_s=RUN_TIMEOUT_S,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["schema"] == "gtui.verdict/1" and report["ab"]["interleaved"] is True
    assert report["status"] == "conclusive", (report["reason"], report["effects"])
    _check_service_report(report, service, names)
    # Interleaved: there and back at least, every switch on both replicas.
    assert len(report["service"]["rolls"]) >= 2
    throughput = next(e for e in report["effects"] if e["metric"] == "requests_per_s")
    assert throughput["verdict"] == "significant" and throughput["low"] > 0, throughput
    # The server's req/s is both replicas': one replica of one worker serves
    # at most 10 req/s of 100 ms requests; the service before the change did
    # close to 20.
    assert throughput["before"] > 13, throughput
    assert throughput["after"] > 2 * throughput["before"], throughput
    sides = {side["name"]: side["config"] for side in report["sides"]}
    assert sides["workers=3"]["settings"]["workers"] == 3  # per replica
    assert report["ab"]["config_now"] == "changed: workers=3"
    assert [i["workers_current"] for i in _snapshot(service)] == [3, 3]
    assert "the whole service" in done.stderr and names[0] in done.stderr


def test_sweep_on_a_service_ranks_per_replica_counts_and_restores_every_replica(
    project: ComposeProject, tmp_path: Path
) -> None:
    service, names = _up_and_serving(project)
    profile = _profile(tmp_path)
    env = {"GTUI_STATE_DIR": str(tmp_path / "state")}
    output = tmp_path / "sweep.md"
    done = run_gtui(
        "sweep", service, "--profile", str(profile), "--workers", "1,2", "--cap", "90",
        "--yes", "--json", "--output", str(output), env=env, timeout_s=RUN_TIMEOUT_S,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "completed", report.get("reason")
    _check_service_report(report, service, names)
    labels = [r["label"] for r in report["configs"]]
    assert report["winner"] == labels.index("2 x sync"), report["configs"]
    measured = {r["label"]: r["throughput_rps"] for r in report["configs"]}
    assert measured["1 x sync"] > 13, measured  # both replicas' requests
    assert report["restored"] is True and report["config_now"] == "1 x sync"
    assert [i["workers_current"] for i in _snapshot(service)] == [1, 1]
    markdown = output.read_text()
    assert f"service: {service}: 2 replicas ({names[0]} at http://127.0.0.1:" in markdown

    # Replicas that disagree cannot be measured as one: refused, one line.
    scaled = run_gtui("scale", names[1], "=2", "--yes", env=env, timeout_s=RUN_TIMEOUT_S)
    assert scaled.returncode == 0, scaled.stdout + scaled.stderr
    for command in ("sweep", "ab"):
        refused = run_gtui(
            command, service, "--profile", str(profile), "--workers", "3", "--yes",
            env=env, timeout_s=120,
        )  # fmt: skip
        assert refused.returncode == 2, refused.stdout + refused.stderr
        (line,) = refused.stderr.strip().splitlines()
        assert "replicas disagree" in line and "workers" in line, line
    assert [i["workers_current"] for i in _snapshot(service)] == [1, 2]


def test_ab_on_a_service_falls_back_to_one_rolled_switch_for_a_re_create(
    project: ComposeProject, container_factory: ContainerFactory, tmp_path: Path
) -> None:
    # --timeout on the command line: only a re-create changes it, which
    # cannot be undone between rounds: one switch, rolled over the replicas.
    service, names = _up_and_serving(project, "--timeout", "30")
    ids = [container_factory.client.containers.get(name).id for name in names]
    done = run_gtui(
        "ab", service, "--profile", str(_profile(tmp_path)), "--timeout", "40",
        "--duration", "10", "--warmup", "3", "--yes", "--json",
        env={"GTUI_STATE_DIR": str(tmp_path / "state")}, timeout_s=RUN_TIMEOUT_S,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ab"]["status"] == "compared", report["ab"]
    assert any("one switch, not interleaved" in note for note in report["notes"]), report["notes"]
    _check_service_report(report, service, names)
    (roll,) = report["service"]["rolls"]
    assert [r["status"] for r in roll["replicas"]] == ["done", "done"]
    after = _snapshot(service)
    assert [i["config"]["timeout"]["value"] for i in after] == [40, 40]  # type: ignore[index]
    assert [i["container"]["id"] for i in after] != ids  # type: ignore[index]
    throughput = next(m for m in report["metrics"] if m["metric"] == "requests_per_s")
    assert throughput["before"] > 13, throughput  # both replicas' requests


def test_sigkill_mid_service_sweep_then_gtui_recover_restores_every_replica(
    project: ComposeProject, container_factory: ContainerFactory, tmp_path: Path
) -> None:
    service, names = _up_and_serving(project)
    env = {"GTUI_STATE_DIR": str(tmp_path / "state")}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn_tui", "sweep", service, "--workers", "3",
         "--profile", str(_profile(tmp_path)), "--warmup", "2", "--measure", "60", "--yes"],
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    containers = [container_factory.client.containers.get(name) for name in names]
    try:
        # Killed while measuring 3 workers on both replicas.
        for container in containers:
            assert wait_worker_count(container, 3, timeout_s=120.0) == 3
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    (journal,) = (tmp_path / "state" / "sweeps").glob("*.json")
    assert json.loads(journal.read_text())["target"]["label"] == service

    recovered = run_gtui("recover", env=env, timeout_s=RUN_TIMEOUT_S)
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert "sweep" in recovered.stdout and "restored" in recovered.stdout, recovered.stdout
    assert service in recovered.stdout and "1 x sync" in recovered.stdout
    for container in containers:
        assert wait_worker_count(container, 1) == 1
    assert not list((tmp_path / "state" / "sweeps").glob("*.json"))  # archived


def test_a_replica_failing_its_switch_undoes_the_others_and_the_ab_stops_unchanged(
    project: ComposeProject, container_factory: ContainerFactory, tmp_path: Path
) -> None:
    service, names = _up_and_serving(project)
    # Replica 2 loses its application module: its new config fails
    # gunicorn --check-config before its master is told (its running
    # workers keep serving), after replica 1 took the change.
    second = container_factory.client.containers.get(names[1])
    assert second.exec_run(["rm", "/app/app.py"]).exit_code == 0
    done = run_gtui(
        "ab", service, "--profile", str(_profile(tmp_path)), "--timeout", "45",
        "--yes", "--json",
        env={"GTUI_STATE_DIR": str(tmp_path / "state")}, timeout_s=RUN_TIMEOUT_S,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["ab"]["config_now"] == "unchanged", report["ab"]
    assert "switch to timeout=45 failed" in (report["reason"] or ""), report["reason"]
    assert "were retuned back" in report["reason"], report["reason"]
    (roll,) = report["service"]["rolls"]
    assert [r["status"] for r in roll["replicas"]] == ["done", "failed"]
    after = _snapshot(service)
    assert [i["config"]["timeout"]["value"] for i in after] == [30, 30]  # type: ignore[index]
