"""What ``gtui load`` runs once its arguments are parsed (by the one parser
of ``gunicorn_tui.cli``): the run's profile from what the user typed, the
run itself with per-second progress, and its summary.

Exit codes: 0 the run ended (whatever the server answered), 1 the run failed
(it could not start, broke down, or not one request got a response), 130
interrupted with Ctrl-C (the summary of what ran is still printed). Errors
are one line on stderr, never a traceback.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from gunicorn_tui.load.driver import LoadRun, LoadRunError
from gunicorn_tui.load.profile import (
    LoadProfile,
    load_profile_or_builtin,
    parse_profile,
)
from gunicorn_tui.load.report import format_second, format_summary, summary_to_dict
from gunicorn_tui.load.summary import RunSummary, SecondSummary
from gunicorn_tui.load.target import LoadTarget

PROG = "gtui load"
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
_JOIN_POLL_S = 0.2

# Without a profile: what `gtui load URL` sends when only the URL is given.
DEFAULT_RATE_RPS = 10.0
DEFAULT_DURATION_S = 10.0


@dataclass(frozen=True)
class RunShape:
    """The pacing and bounds the user typed (None: not given)."""

    rate_rps: float | None = None
    concurrency: int | None = None
    duration_s: float | None = None
    max_requests: int | None = None
    ramp_up_s: float | None = None
    timeout_s: float | None = None
    connections: int | None = None
    seed: int | None = None
    insecure: bool = False

    def overrides(self) -> dict[str, object]:
        """The ``[run]`` fields these replace in a profile."""
        overrides: dict[str, object] = {}
        if self.rate_rps is not None:
            overrides.update(mode="open", rate_rps=self.rate_rps, concurrency=None)
        if self.concurrency is not None:
            overrides.update(mode="closed", concurrency=self.concurrency, rate_rps=None)
        if self.duration_s is not None:
            overrides["duration_s"] = self.duration_s
        if self.max_requests is not None:
            overrides["max_requests"] = self.max_requests
        if self.ramp_up_s is not None:
            overrides["ramp_up_s"] = self.ramp_up_s
        if self.timeout_s is not None:
            overrides["timeout_s"] = self.timeout_s
            # A drain longer than the new timeout would be refused; keep the default.
            overrides["drain_s"] = None
        if self.connections is not None:
            overrides["connections"] = self.connections
        if self.seed is not None:
            overrides["seed"] = self.seed
        if self.insecure:
            overrides["verify_tls"] = False
        return overrides


def profile_for_paths(paths: Sequence[str], shape: RunShape) -> LoadProfile:
    """GET each of ``paths`` (equal weights) shaped as typed: ``--rate``
    (default 10 req/s) or ``--concurrency``, for ``--duration`` (default 10 s
    unless ``--requests`` bounds the run), no ramp unless ``--ramp-up``."""
    run: dict[str, object] = {"mode": "open", "rate_rps": DEFAULT_RATE_RPS, "ramp_up_s": 0.0}
    if shape.duration_s is None and shape.max_requests is None:
        run["duration_s"] = DEFAULT_DURATION_S
    for key, value in shape.overrides().items():
        if value is None:
            run.pop(key, None)
        else:
            run[key] = value
    requests = [{"path": path} for path in paths]
    label = " ".join(paths) if len(paths) <= 3 else f"{len(paths)} paths"
    return parse_profile({"run": run, "request": requests}, source=f"GET {label}")


def profile_from(
    name: str, shape: RunShape, paths: Sequence[str] = ()
) -> tuple[LoadProfile, tuple[str, ...]]:
    """The profile ``name`` (file or built-in) with the typed overrides; its
    requests replaced by GETs of ``paths`` when given. Also notes on what
    was adapted: a ``--duration`` shorter than the profile's ramp-up ramps
    over the whole run instead of being refused."""
    overrides = shape.overrides()
    notes: list[str] = []
    if shape.duration_s is not None and shape.ramp_up_s is None:
        as_written = load_profile_or_builtin(
            name, overrides={k: v for k, v in overrides.items() if k != "duration_s"}
        )
        if as_written.ramp_up_s > shape.duration_s:
            overrides["ramp_up_s"] = shape.duration_s
            notes.append(
                f"{as_written.source}: its {as_written.ramp_up_s:g} s ramp-up is cut to the "
                f"{shape.duration_s:g} s of --duration (--ramp-up sets it)"
            )
    profile = load_profile_or_builtin(name, overrides=overrides)
    if paths:
        gets = parse_profile(
            {"run": {"rate_rps": 1, "max_requests": 1}, "request": [{"path": p} for p in paths]},
            source="--path",
        )
        profile = dataclasses.replace(profile, requests=gets.requests)
    return profile, tuple(notes)


def run_profile(
    profile: LoadProfile,
    target: LoadTarget,
    *,
    json_output: bool,
    quiet: bool,
    stdout: TextIO,
    stderr: TextIO,
) -> int:
    """Run ``profile`` against ``target``, progress on ``stderr`` each second
    (unless ``quiet``), the summary on ``stdout``; the exit code."""

    def on_second(second: SecondSummary) -> None:
        if not quiet:
            print(format_second(second), file=stderr, flush=True)

    run = LoadRun(profile, target, on_second=on_second).start()
    interrupted = False
    summary: RunSummary | None = None
    try:
        while summary is None:
            try:
                summary = run.join(_JOIN_POLL_S)
            except KeyboardInterrupt:
                interrupted = True
                run.stop()
    except LoadRunError as exc:
        print(f"{PROG}: error: {exc}", file=stderr)
        return EXIT_FAILED

    if json_output:
        print(json.dumps(summary_to_dict(summary), indent=2), file=stdout)
    else:
        print(format_summary(summary), file=stdout)
    if interrupted:
        return EXIT_INTERRUPTED
    if summary.sent and summary.completed == 0:
        errors = ", ".join(
            f"{kind} {count}"
            for kind, count in summary_to_dict(summary)["errors"].items()
            if count and kind != "total"
        )
        print(f"{PROG}: error: no request got a response from {target.label} ({errors})",
              file=stderr)  # fmt: skip
        return EXIT_FAILED
    return EXIT_OK
