"""The control commands as a user runs them: plans, confirmations, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import docker
import pytest

from tests.control.helpers import gunicorn_container, run_gtui, serves, worker_count
from tests.harness.containers import ContainerFactory
from tests.images import tags

pytestmark = pytest.mark.slow


def test_cli_plans_confirms_and_acts(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, state_dir: Path
) -> None:
    container, port = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "-w", "2")
    name = container.name or ""

    dry = run_gtui("retune", name, "--workers", "4", "--timeout", "40", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert lines[1] == "change: workers 2 -> 4, timeout 30 -> 40"
    assert lines[2] == "strategy: re-create the container"
    assert f"   $ docker rename {name} {name}-gtui-old" in lines
    assert docker_client.containers.get(name).id == container.id

    unconfirmed = run_gtui("scale", name, "+1")
    assert unconfirmed.returncode == 2
    assert (
        unconfirmed.stderr.strip()
        == "gtui scale: error: no terminal to confirm on: pass --yes to act"
    )

    read_only = run_gtui("--read-only", "scale", name, "+1", "--yes")
    assert read_only.returncode == 1 and "read-only" in read_only.stderr
    assert worker_count(container) == 2

    done = run_gtui("scale", name, "+1", "--yes")
    assert done.returncode == 0, done.stderr
    assert "scale" in done.stdout and ": ok, new config served after" in done.stdout
    assert "[1/2] add 1 worker(s) through the control socket ..." in done.stderr
    assert worker_count(container) == 3 and serves(port)

    nothing = run_gtui("retune", name, "--yes")
    assert nothing.returncode == 2 and "name at least one setting" in nothing.stderr
    missing = run_gtui("retune", "gtui-test-no-such-container", "--workers", "2", "--yes")
    assert missing.returncode == 3 and "Traceback" not in missing.stderr

    listed = run_gtui("recover", "--list", "--json")
    assert listed.returncode == 0
    assert json.loads(listed.stdout) == {"pending": [], "state_dir": str(state_dir)}
    audit = [json.loads(line) for line in (state_dir / "audit.jsonl").read_text().splitlines()]
    assert [(r["action"], r["outcome"]) for r in audit] == [("scale", "ok")]
