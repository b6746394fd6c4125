"""``gtui persist TARGET``: write the running configuration where it lives.

See :mod:`gunicorn_tui.persist.plan`. A Compose service (``PROJECT/SERVICE``)
is persisted once for all its replicas, which must agree.
"""

from __future__ import annotations

import argparse
import json
import sys

from gunicorn_tui.cli.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError
from gunicorn_tui.cli.target_monitor import (
    confirm,
    open_target_monitor,
    parse_args_target,
    select_instance,
    select_replicas,
)
from gunicorn_tui.control.engine import ActionRefused, ControlEngine
from gunicorn_tui.control.running.service_roll import replica_disagreements
from gunicorn_tui.monitor.targets import TargetKind
from gunicorn_tui.output.escape import escape_controls
from gunicorn_tui.persist.drift import RETUNABLE
from gunicorn_tui.persist.plan import PersistKind, PersistPlan, plan_persist
from gunicorn_tui.persist.safe_write import FileRefused, replace_text


def run_persist(args: argparse.Namespace) -> int:
    """``gtui persist TARGET [--dry-run] [--yes] [--json]``."""
    monitor = open_target_monitor(args)
    try:
        if parse_args_target(args, args.target).kind is TargetKind.SERVICE:
            replicas = select_replicas(monitor, args.target)
            disagree = replica_disagreements(replicas, RETUNABLE)
            if disagree:
                raise CliError(
                    f"{args.target}: the replicas run different configs ({'; '.join(disagree)}): "
                    "make them agree (gtui retune SERVICE) before persisting",
                    EXIT_USAGE,
                )
            sample = replicas[0]
        else:
            sample = select_instance(monitor, args.target)
        client = monitor.watcher.client if monitor.watcher is not None else None
        engine = ControlEngine(docker_client=client, api_only=bool(args.api_only))
        try:
            facts = engine.facts(sample)
        except ActionRefused as error:
            raise CliError(str(error), EXIT_FAILURE) from error
        plan = plan_persist(sample, facts, args.target)
    finally:
        monitor.close()
    return _act(args, plan)


def _act(args: argparse.Namespace, plan: PersistPlan) -> int:
    written = False
    error: str | None = None
    if not args.json:
        _describe(plan)
    if plan.writable and not args.dry_run:
        sys.stdout.flush()
        confirm(args)
        assert plan.path is not None and plan.old_text is not None and plan.new_text is not None
        try:
            replace_text(plan.path, plan.old_text, plan.new_text)
            written = True
        except FileRefused as refused:
            error = str(refused)
    if args.json:
        document = {**plan.as_json(), "written": written, "error": error}
        json.dump(document, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    elif written:
        print(f"written and read back: {escape_controls(plan.path or '')}")
        print("the running containers are unchanged; the next re-create from this file keeps it")
    elif error:
        print(f"not written: {escape_controls(error)}")
    if plan.kind is PersistKind.IN_SYNC:
        return EXIT_OK
    if written or (plan.writable and args.dry_run):
        return EXIT_OK
    return EXIT_FAILURE


def _describe(plan: PersistPlan) -> None:
    if plan.kind is PersistKind.IN_SYNC:
        where = f" ({escape_controls(plan.path)})" if plan.path else ""
        print(f"{escape_controls(plan.target)}: the running config matches its source{where}")
        return
    target = escape_controls(plan.target)
    print(f"{target}: running config differs from its source ({plan.kind.value}):")
    for line in plan.drift_lines():
        print(escape_controls(line))
    if plan.refusal:
        print(f"cannot rewrite it: {escape_controls(plan.refusal)}")
    diff = plan.diff()
    if diff:
        print(escape_controls(diff, keep_newlines=True).rstrip("\n"))
    for line in plan.manual:
        print(escape_controls(line))
