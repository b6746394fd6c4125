"""benchmarks/_support.py keeps small copies of test-harness values so the
benchmarks do not import tests; these must stay equal to the originals (the
owner labels are how a test session removes a killed benchmark's containers)."""

from __future__ import annotations

import os

from benchmarks import _support
from tests.harness import containers, loopback
from tests.images import tags


def test_the_benchmarks_image_is_a_test_image() -> None:
    assert _support.GUNICORN_LATEST == tags.GUNICORN_LATEST
    assert _support.GUNICORN_LATEST in tags.TEST_IMAGES


def test_benchmark_containers_carry_the_labels_the_test_harness_reaps_by() -> None:
    labels = _support.owner_labels()
    assert labels == containers.owner_labels()
    assert containers.owner_alive(labels) is True
    assert labels[containers.OWNER_PID_LABEL] == str(os.getpid())


def test_the_sample_app_directory_is_the_harness_one() -> None:
    from tests.harness.local_gunicorn import SAMPLE_APP_DIR

    assert _support.SAMPLE_APP_DIR == SAMPLE_APP_DIR
    assert (_support.SAMPLE_APP_DIR / "sample_app.py").is_file()
    assert _support.LOOPBACK == loopback.LOOPBACK
