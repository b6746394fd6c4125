"""Sweep values on data: the grid, and every bad value refused up front."""

from __future__ import annotations

import pytest

from gunicorn_tui.model.instances import ConfigSetting, ConfigSource, GunicornConfig
from gunicorn_tui.sweep.grid import (
    SweepConfig,
    SweepValueError,
    build_grid,
    check_grid,
    config_of,
    parse_int_list,
    same_point,
)

NONE = GunicornConfig({})


def _config(**values: object) -> GunicornConfig:
    return GunicornConfig(
        {
            k: ConfigSetting(v, ConfigSource.DEFAULT, ConfigSource.DEFAULT)  # type: ignore[arg-type]
            for k, v in values.items()
        }
    )


def test_grid_varies_threads_only_for_gthread() -> None:
    grid = build_grid((2, 4), ("sync", "gthread"), (1, 4))
    assert [c.label for c in grid] == [
        "2 x sync",
        "4 x sync",
        "2 x gthread",
        "2 x gthread/4",
        "4 x gthread",
        "4 x gthread/4",
    ]
    assert build_grid((1,), ("gevent",), None) == (SweepConfig(1, "gevent", None),)


@pytest.mark.parametrize(
    ("workers", "classes", "threads", "fragment"),
    [
        ((0, 2), ("sync",), None, "--workers: 0 is not a worker count"),
        ((-1,), ("sync",), None, "--workers: -1"),
        ((2,), ("quantum",), None, "unknown worker class 'quantum'"),
        ((2,), ("sync",), (4,), "--threads only applies to gthread"),
        ((2,), ("gthread",), (0,), "--threads: 0 is not a thread count"),
        ((), ("sync",), None, "name at least one count"),
        (tuple(range(1, 30)), ("sync",), None, "at most 24 per sweep"),
    ],
)
def test_bad_values_are_refused(
    workers: tuple[int, ...],
    classes: tuple[str, ...],
    threads: tuple[int, ...] | None,
    fragment: str,
) -> None:
    problems = check_grid(workers, classes, threads, NONE)
    assert any(fragment in problem for problem in problems), problems


def test_a_class_the_server_cannot_import_is_refused() -> None:
    problems = check_grid(
        (2,),
        ("sync", "gevent"),
        None,
        NONE,
        {"gunicorn.workers.ggevent": False, "gunicorn.workers.sync": True},
    )
    assert problems == (
        "--worker-class: gevent cannot run here: gunicorn.workers.ggevent does not import in "
        "the server's Python (its library is missing in the image)",
    )
    assert check_grid((1, 2, 4), ("sync",), None, NONE) == ()


def test_int_lists() -> None:
    assert parse_int_list("1, 2,4", "--workers") == (1, 2, 4)
    with pytest.raises(SweepValueError, match="'x' is not a whole number"):
        parse_int_list("1,x", "--workers")


def test_the_running_point() -> None:
    running = config_of(_config(workers=4, worker_class="sync", threads=1))
    assert running == SweepConfig(4, "sync", 1)
    assert same_point(running, SweepConfig(4, "sync", 1))
    assert not same_point(running, SweepConfig(2, "sync", 1))
    assert config_of(_config(workers=2, worker_class="sync", threads=4)) == SweepConfig(
        2, "gthread", 4
    )
    assert config_of(_config(worker_class="sync")) is None
