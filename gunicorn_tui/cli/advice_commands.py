"""``gtui advise TARGET``: observe an instance for a while and print advice.

Each item says what to try (or not), the numbers it was judged on, and the
``gtui retune`` command that prepares it. Nothing is changed.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Mapping

from gunicorn_tui.advice.advice_json import advice_json
from gunicorn_tui.advice.collect import AdviceReport, observe_and_advise
from gunicorn_tui.advice.items import AdviceItem
from gunicorn_tui.cli.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError
from gunicorn_tui.cli.target_monitor import open_target_monitor, select_instance
from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.control.planning.requests import RetuneRequest
from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.monitor.monitor import MonitorFrame

MAX_OBSERVE_S = 600.0


def retune_command(target: str, request: RetuneRequest) -> str:
    """The ``gtui retune`` command line that applies ``request``."""
    words = ["gtui", "retune", target]
    for name, value in request.changes().items():
        flag = "--keep-alive" if name == "keepalive" else "--" + name.replace("_", "-")
        if name == "preload_app":
            words.append("--preload" if value else "--no-preload")
        else:
            words += [flag, str(value)]
    return shlex.join(words)


def item_text(item: AdviceItem, target: str) -> list[str]:
    """An item as indented text lines."""
    lines = [f"[{item.kind.value}] {item.title}", f"    {item.detail}"]
    if item.evidence:
        lines.append("    evidence: " + "; ".join(e.text() for e in item.evidence))
    if item.retune is not None:
        lines.append(f"    prepare: {retune_command(target, item.retune)}")
    return lines


def report_text(report: AdviceReport, target: str) -> str:
    """The whole report as text."""
    observation = report.observation
    head = (
        f"advice for {report.sample.label} ({observation.samples} samples over "
        f"{observation.window_s:.0f} s)"
    )
    lines = [head]
    for item in report.items:
        lines.extend(item_text(item, target))
    return "\n".join(lines) + "\n"


def run_advise(args: argparse.Namespace) -> int:
    """``gtui advise TARGET [--duration S] [--json]``."""
    if not 0 < args.duration <= MAX_OBSERVE_S:
        raise CliError(f"--duration must be in (0, {MAX_OBSERVE_S:g}] seconds", EXIT_USAGE)
    monitor = open_target_monitor(args)
    try:
        sample = select_instance(monitor, args.target)
        key = sample.key
        client = monitor.watcher.client if monitor.watcher is not None else None
        engine = ControlEngine(read_only=True, docker_client=client)

        def probe(found: InstanceSample, modules: tuple[str, ...]) -> Mapping[str, bool]:
            return engine.facts(found, modules).modules

        def select(frame: MonitorFrame) -> InstanceSample | None:
            return next((s for s in frame.instances if s.key == key), None)

        print(f"gtui advise: observing {sample.label} for {args.duration:g} s", file=sys.stderr)
        report = observe_and_advise(
            monitor.sample, select, duration_s=args.duration, probe_classes=probe
        )
    finally:
        monitor.close()
    if report is None:
        raise CliError(f"{args.target} was not seen while observing", EXIT_FAILURE)
    if args.json:
        print(json.dumps(advice_json(report), indent=2))
    else:
        print(report_text(report, args.target), end="")
    return EXIT_OK
