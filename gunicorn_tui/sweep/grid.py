"""The configs of a sweep: parsing the lists, the grid, and checking it
all before anything starts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gunicorn_tui.control.planning.requests import RetuneRequest
from gunicorn_tui.control.planning.validation import MAX_THREADS, MAX_WORKERS, validate_request
from gunicorn_tui.control.planning.worker_classes import (
    THREADED_CLASSES,
    UnknownWorkerClass,
    resolve_worker_class,
)
from gunicorn_tui.model.instances import GunicornConfig
from gunicorn_tui.settings.resolve import short_worker_class

# A guard against a typo turning a sweep into an afternoon.
MAX_CONFIGS = 24


class SweepValueError(ValueError):
    """Sweep values that cannot run; the message lists every problem."""


@dataclass(frozen=True)
class SweepConfig:
    """One point of the grid. ``threads`` is None for classes without threads."""

    workers: int
    worker_class: str
    threads: int | None

    def request(self) -> RetuneRequest:
        """The retune that gets there."""
        return RetuneRequest(
            workers=self.workers, worker_class=self.worker_class, threads=self.threads
        )

    @property
    def label(self) -> str:
        """``4 x gthread/4`` style short name."""
        threads = f"/{self.threads}" if self.threads is not None and self.threads > 1 else ""
        return f"{self.workers} x {self.worker_class}{threads}"


def parse_int_list(text: str, name: str) -> tuple[int, ...]:
    """``2,4,8`` as whole numbers (SweepValueError otherwise)."""
    values = []
    for part in text.split(","):
        part = part.strip()
        try:
            values.append(int(part))
        except ValueError:
            raise SweepValueError(f"{name}: {part!r} is not a whole number") from None
    return tuple(values)


def parse_name_list(text: str) -> tuple[str, ...]:
    """``sync,gthread`` as names (empty parts dropped)."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def build_grid(
    workers: Sequence[int], classes: Sequence[str], threads: Sequence[int] | None
) -> tuple[SweepConfig, ...]:
    """Every combination: threads vary only for gthread; sync runs with 1
    thread (more would make it gthread), other classes without threads."""
    grid: list[SweepConfig] = []
    for worker_class in classes:
        try:
            short = resolve_worker_class(worker_class).short
        except UnknownWorkerClass:
            short = worker_class  # check_grid says why
        if short == "sync":
            options: Sequence[int | None] = (1,)
        elif short in THREADED_CLASSES:
            options = tuple(threads) if threads else (None,)
        else:
            options = (None,)
        for count in workers:
            for thread_count in options:
                config = SweepConfig(count, short, thread_count)
                if config not in grid:
                    grid.append(config)
    return tuple(grid)


def check_grid(
    workers: Sequence[int],
    classes: Sequence[str],
    threads: Sequence[int] | None,
    current: GunicornConfig,
    modules_available: Mapping[str, bool] | None = None,
) -> tuple[str, ...]:
    """Every problem with the values (empty when the sweep may start).

    ``modules_available`` maps a worker class's module to whether the
    server's Python imports it; a class whose module does not is refused.
    """
    problems: list[str] = []
    if not workers:
        problems.append("--workers: name at least one count")
    if not classes:
        problems.append("--worker-class: name at least one class")
    for count in workers:
        if not 1 <= count <= MAX_WORKERS:
            problems.append(f"--workers: {count} is not a worker count (1 to {MAX_WORKERS})")
    for count in threads or ():
        if not 1 <= count <= MAX_THREADS:
            problems.append(f"--threads: {count} is not a thread count (1 to {MAX_THREADS})")
    resolved = []
    for name in classes:
        try:
            resolved.append(resolve_worker_class(name))
        except UnknownWorkerClass as error:
            problems.append(f"--worker-class: {error}")
    if threads and any(spec.short == "gthread" for spec in resolved) is False:
        problems.append("--threads only applies to gthread: add gthread to --worker-class")
    for spec in resolved:
        if modules_available is not None and modules_available.get(spec.module) is False:
            problems.append(
                f"--worker-class: {spec.short} cannot run here: {spec.module} does not import "
                "in the server's Python (its library is missing in the image)"
            )
    if problems:
        return tuple(problems)
    grid = build_grid(workers, classes, threads)
    if len(grid) > MAX_CONFIGS:
        problems.append(f"{len(grid)} configs: at most {MAX_CONFIGS} per sweep")
    for config in grid:
        for problem in validate_request(config.request(), current):
            problems.append(f"{config.label}: {problem}")
    return tuple(dict.fromkeys(problems))


def config_of(current: GunicornConfig) -> SweepConfig | None:
    """The sweep point a running config is at (None when its count is unknown)."""
    workers = current.workers
    if workers is None:
        return None
    short = short_worker_class(current.worker_class or "sync")
    threads_value = current.value("threads")
    threads = threads_value if isinstance(threads_value, int) else 1
    if short == "sync" and threads > 1:
        short = "gthread"
    if short not in THREADED_CLASSES:
        return SweepConfig(workers, short, None)
    return SweepConfig(workers, short, threads)


def same_point(running: SweepConfig | None, wanted: SweepConfig) -> bool:
    """Whether the running config already is ``wanted`` (None threads: any)."""
    if running is None:
        return False
    return (
        running.workers == wanted.workers
        and running.worker_class == wanted.worker_class
        and (wanted.threads is None or running.threads == wanted.threads)
    )
