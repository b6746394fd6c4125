"""What the Sweep form asks for, checked the way ``gtui sweep`` checks it.

Pure: the form's texts in, a :class:`SweepChoice` or every problem out.
The grid is parsed and checked by :mod:`gunicorn_tui.sweep.grid`, the load
by :mod:`gunicorn_tui.load.profile`; whether the server's Python imports
each class is asked later, off the UI thread, before anything changes.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from gunicorn_tui.compare.interleave import MIN_CAP_S
from gunicorn_tui.control.planning.running_config import running_config
from gunicorn_tui.control.planning.validation import MAX_WORKERS
from gunicorn_tui.load.inline_profile import inline_profile
from gunicorn_tui.load.profile import LoadProfile, ProfileError, load_profile_or_builtin
from gunicorn_tui.model.instances import GunicornConfig, InstanceSample
from gunicorn_tui.sweep.grid import (
    SweepConfig,
    SweepValueError,
    build_grid,
    check_grid,
    config_of,
    parse_int_list,
    parse_name_list,
)
from gunicorn_tui.sweep.rounds import MAX_SWEEP_CAP_S, sweep_rounds
from gunicorn_tui.sweep.runner import MAX_MEASURE_S, SweepSettings

DEFAULT_SWEEP_PROFILE = "mixed"
MAX_WARMUP_S = 600.0

# The CLI's option names in check_grid's messages, as the form labels them.
_FORM_NAMES = (("--worker-class", "worker classes"), ("--workers", "workers"),
               ("--threads", "threads"))  # fmt: skip


@dataclass(frozen=True)
class SweepFields:
    """The form's texts (and its one toggle)."""

    workers: str
    worker_classes: str
    threads: str
    measure_s: str
    warmup_s: str
    profile: str
    rate: str
    concurrency: str
    path: str
    keep_winner: bool = False
    # Interleaved rounds (``gtui sweep``'s default): their cap ("" = 30 s a
    # config, at least 60), or each config measured once, in turn.
    cap_s: str = ""
    in_turn: bool = False


@dataclass(frozen=True)
class SweepChoice:
    """A sweep the form accepted: the grid, the load, and its timing."""

    workers: tuple[int, ...]
    worker_classes: tuple[str, ...]
    threads: tuple[int, ...]
    configs: tuple[SweepConfig, ...]
    profile: LoadProfile
    warmup_s: float
    measure_s: float
    keep_winner: bool
    cap_s: float | None = None  # None: the default cap for this many configs
    in_turn: bool = False

    def settings(self, base: SweepSettings) -> SweepSettings:
        """``base`` (sampling interval, data needed to rank, the rounds'
        shape) with this timing: interleaved rounds as ``gtui sweep`` runs
        them, unless measured in turn."""
        rounds = None
        if not self.in_turn:
            rounds, _problem = sweep_rounds(
                len(self.configs), cap_s=self.cap_s, base=base.interleave
            )
        return dataclasses.replace(
            base,
            warmup_s=self.warmup_s,
            measure_s=self.measure_s,
            keep_winner=self.keep_winner,
            interleave=rounds,
        )

    @property
    def interleaved(self) -> bool:
        """Whether the configs are to be interleaved in rounds (when their
        switches allow it: the runner checks, and falls back)."""
        return not self.in_turn and len(self.configs) > 1

    @property
    def per_config_s(self) -> float:
        """Warm-up and measurement of one config (retunes come on top)."""
        return self.warmup_s + self.measure_s


def default_fields(sample: InstanceSample, settings: SweepSettings) -> SweepFields:
    """The form's starting texts: the running count and twice it, the
    running class (and threads for gthread), the settings' timing."""
    running = config_of(running_config(sample))
    count = running.workers if running is not None else 2
    counts = sorted({count, min(MAX_WORKERS, count * 2)})
    worker_class = running.worker_class if running is not None else "sync"
    threads = running.threads if running is not None and worker_class == "gthread" else None
    return SweepFields(
        workers=",".join(str(n) for n in counts),
        worker_classes=worker_class,
        threads=str(threads) if threads else "",
        measure_s=f"{settings.measure_s:g}",
        warmup_s=f"{settings.warmup_s:g}",
        profile=DEFAULT_SWEEP_PROFILE,
        rate="",
        concurrency="",
        path="/",
        keep_winner=settings.keep_winner,
        in_turn=settings.interleave is None,
    )


def _seconds(text: str, name: str, low: float, high: float, problems: list[str]) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        problems.append(f"{name}: {text.strip()!r} is not a number of seconds")
        return 0.0
    if not math.isfinite(value) or not low <= value <= high:
        problems.append(f"{name}: {value:g} s is not between {low:g} and {high:g} s")
    return value


def _profile(fields: SweepFields, problems: list[str]) -> LoadProfile | None:
    named = fields.profile.strip()
    inline = bool(fields.rate.strip() or fields.concurrency.strip())
    if named and inline:
        problems.append("load: a profile or a rate/concurrency, not both (clear one)")
        return None
    if not named and not inline:
        problems.append("load: name a profile, a rate or a concurrency")
        return None
    try:
        if named:
            return load_profile_or_builtin(named)
        return inline_profile(fields.rate, fields.concurrency, fields.path)
    except ProfileError as error:
        problems.append(str(error))
        return None


def _form_names(problem: str) -> str:
    for option, label in _FORM_NAMES:
        problem = problem.replace(option, label)
    return problem


def choose(fields: SweepFields, current: GunicornConfig) -> tuple[SweepChoice | None, list[str]]:
    """The sweep ``fields`` describe, or every problem with them (the
    grid's checks are ``gtui sweep``'s, against ``current``)."""
    problems: list[str] = []
    try:
        workers = parse_int_list(fields.workers, "workers") if fields.workers.strip() else ()
    except SweepValueError as error:
        problems.append(str(error))
        workers = None
    try:
        threads = parse_int_list(fields.threads, "threads") if fields.threads.strip() else ()
    except SweepValueError as error:
        problems.append(str(error))
        threads = None
    classes = parse_name_list(fields.worker_classes)
    if workers is not None and threads is not None:
        problems += [_form_names(p) for p in check_grid(workers, classes, threads, current)]
    measure_s = _seconds(fields.measure_s, "duration", 0.0, MAX_MEASURE_S, problems)
    if measure_s == 0.0 and not any(p.startswith("duration") for p in problems):
        problems.append("duration: must be more than 0 s")
    warmup_s = _seconds(fields.warmup_s, "warm-up", 0.0, MAX_WARMUP_S, problems)
    profile = _profile(fields, problems)
    cap_s = None
    if fields.cap_s.strip() and not fields.in_turn:
        cap_s = _seconds(fields.cap_s, "cap", MIN_CAP_S, MAX_SWEEP_CAP_S, problems)
    if not fields.in_turn and workers is not None and threads is not None and not problems:
        _rounds, problem = sweep_rounds(len(build_grid(workers, classes, threads)), cap_s=cap_s)
        if problem is not None:
            problems.append(f"cap: {problem}")
    if problems or workers is None or threads is None or profile is None:
        return None, problems
    choice = SweepChoice(
        workers=workers,
        worker_classes=classes,
        threads=threads,
        configs=build_grid(workers, classes, threads),
        profile=profile,
        warmup_s=warmup_s,
        measure_s=measure_s,
        keep_winner=fields.keep_winner,
        cap_s=cap_s,
        in_turn=fields.in_turn,
    )
    return choice, []
