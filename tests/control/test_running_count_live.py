"""Issue 4's stale-count bug on a real container: after ``worker add`` through
the control socket, Gunicorn's ``show config`` still reports the old
``workers``; retune, revert and the Retune form must go by the count that runs."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from gunicorn_tui.control.planning.requests import RETUNABLE_SETTINGS
from gunicorn_tui.ui.actions.retune_form import current_text, request_from_fields
from tests.control.helpers import (
    gunicorn_container,
    run_gtui,
    sample_of,
    serves,
    show_config,
    wait_worker_count,
)
from tests.harness.containers import ContainerFactory
from tests.images import tags

pytestmark = pytest.mark.slow


def test_retune_back_to_the_original_count_after_scaling_through_the_socket(
    container_factory: ContainerFactory, docker_client: docker.DockerClient, state_dir: Path
) -> None:
    container, port = gunicorn_container(container_factory, tags.GUNICORN_LATEST, "-w", "2")
    name = container.name or ""

    scaled = run_gtui("scale", name, "+2", "--yes")
    assert scaled.returncode == 0, scaled.stderr
    assert "through the control socket" in scaled.stderr
    assert wait_worker_count(container, 4) == 4
    # The premise: Gunicorn itself keeps reporting the configured count.
    assert show_config(container)["workers"] == 2

    # The Retune form starts from what runs, so "2" is a change, "4" is not.
    sample = sample_of(name, workers=4)
    assert sample.workers_target == 4 and sample.config.workers == 2
    texts = {setting: current_text(sample, setting) for setting in RETUNABLE_SETTINGS}
    assert texts["workers"] == "4"
    request, problems = request_from_fields(sample, {**texts, "workers": "2"}, False)
    assert request is not None and request.changes() == {"workers": 2}, problems
    _none, problems = request_from_fields(sample, texts, False)
    assert problems == ["nothing to change: name at least one setting"]

    back = run_gtui("retune", name, "--workers", "2", "--yes")
    assert back.returncode == 0, back.stderr
    assert "refused" not in back.stdout, back.stdout
    assert "remove 2 worker(s) through the control socket" in back.stderr, back.stderr
    assert wait_worker_count(container, 2) == 2 and serves(port)

    # Revert undoes that retune: back to the 4 that ran before it.
    reverted = run_gtui("revert", name, "--yes")
    assert reverted.returncode == 0, reverted.stderr
    assert wait_worker_count(container, 4) == 4

    same = run_gtui("retune", name, "--workers", "4", "--yes")
    assert same.returncode == 1, same.stderr
    assert "refused: the server already runs with these settings" in same.stdout
    assert wait_worker_count(container, 4, timeout_s=2.0) == 4 and serves(port)
