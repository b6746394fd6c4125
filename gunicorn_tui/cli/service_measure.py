"""``gtui ab`` and ``gtui sweep`` on a Compose service (``PROJECT/SERVICE``):
measure the service as a whole.

The load is spread round-robin over every replica's reach URL (its port
published on this host), the server-side figures are the replicas'
combined (:mod:`gunicorn_tui.compare.service_view`), and each switch
between configs is rolled over every replica, one at a time, each with
its own journal and rollback (:mod:`gunicorn_tui.control.service_engine`).
The replicas must run one configuration to start with.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from gunicorn_tui.cli.exit_codes import EXIT_USAGE, CliError
from gunicorn_tui.cli.measured_load import load_target_for
from gunicorn_tui.cli.target_monitor import parse_args_target, select_instance, select_replicas
from gunicorn_tui.compare.service_view import ServiceView
from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.control.planning.requests import RETUNABLE_SETTINGS
from gunicorn_tui.control.running.service_roll import (
    RollOutcome,
    replica_disagreements,
    replica_name,
)
from gunicorn_tui.control.service_engine import ServiceEngine
from gunicorn_tui.load.profile import LoadProfile
from gunicorn_tui.load.target import LoadTarget, TargetError, round_robin_target
from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.monitor.monitor import Monitor
from gunicorn_tui.monitor.targets import TargetKind


def is_service_target(args: argparse.Namespace) -> bool:
    """Whether TARGET names a Compose service (``PROJECT/SERVICE``)."""
    return parse_args_target(args, args.target).kind is TargetKind.SERVICE


@dataclass(frozen=True)
class ServiceSetup:
    """A service ready to be measured: its replicas, the combined view (a
    frame source), the engine that rolls a change over it, and the load's
    target (every replica's URL, or the one ``--url`` names)."""

    text: str
    replicas: tuple[InstanceSample, ...]
    urls: tuple[str | None, ...]  # each replica's, in replica order (None: --url given)
    view: ServiceView
    engine: ServiceEngine
    target: LoadTarget
    sample: InstanceSample  # the combined instance, at the start

    @property
    def first(self) -> InstanceSample:
        return self.replicas[0]

    def describe(self) -> str:
        """``proj/web: 3 replicas (proj_web_1 at http://127.0.0.1:P, ...)``."""
        parts = [
            f"{replica_name(r)} at {url}" if url else replica_name(r)
            for r, url in zip(self.replicas, self.urls, strict=True)
        ]
        return f"{self.text}: {len(self.replicas)} replicas ({', '.join(parts)})"

    def report(self) -> dict[str, Any]:
        """The service and its replicas, for a JSON report; the rolls made."""
        return {
            "name": self.text,
            "host": self.first.host,
            "replicas": [
                {
                    "name": replica_name(r),
                    "container_id": r.container.id if r.container else None,
                    "url": url,
                }
                for r, url in zip(self.replicas, self.urls, strict=True)
            ],
            "load_target": self.target.label,
            "rolls": [_roll_json(roll) for roll in self.engine.rolls],
        }

    def report_lines(self) -> tuple[str, ...]:
        """The same, as Markdown lines."""
        lines = [f"service: {self.describe()}", f"load target: {self.target.label}"]
        lines.append(
            f"server figures: the {len(self.replicas)} replicas' together (req/s and CPU "
            "summed; server latency percentiles request-weighted over replicas); settings "
            "are per replica, an epoch's worker count is the service's total"
        )
        if self.engine.rolls:
            last = self.engine.rolls[-1]
            lines.append(f"switches rolled over the replicas: {len(self.engine.rolls)}; "
                         f"last: {last.summary()}")  # fmt: skip
        return tuple(lines)


def _roll_json(roll: RollOutcome) -> dict[str, Any]:
    return {
        "ok": roll.ok,
        "summary": roll.summary(),
        "replicas": [
            {
                "name": result.name,
                "status": result.status.value,
                "outcome": result.outcome.summary() if result.outcome is not None else None,
            }
            for result in roll.results
        ],
    }


def select_measured(
    args: argparse.Namespace, monitor: Monitor, profile: LoadProfile, control: ControlEngine
) -> tuple[InstanceSample, ServiceSetup | None]:
    """What ``gtui ab`` / ``gtui sweep`` measure: the instance TARGET names,
    or a Compose service measured as a whole (its first replica checked)."""
    if is_service_target(args):
        service = open_service(args, monitor, profile, control)
        return service.first, service
    return select_instance(monitor, args.target), None


def open_service(
    args: argparse.Namespace, monitor: Monitor, profile: LoadProfile, control: ControlEngine
) -> ServiceSetup:
    """The service TARGET names, checked: one engine, replicas that agree on
    their config, each reachable (or ``--url``)."""
    project, service = parse_args_target(args, args.target).service
    replicas = select_replicas(monitor, args.target)
    hosts = sorted({r.host for r in replicas})
    if len(hosts) > 1:
        named = ", ".join(f"{host}/{args.target}" for host in hosts)
        raise CliError(f"{args.target} is on {len(hosts)} engines; name one: {named}", EXIT_USAGE)
    disagree = replica_disagreements(replicas, RETUNABLE_SETTINGS)
    if disagree:
        raise CliError(
            f"{args.target}: the replicas disagree ({'; '.join(disagree)}): bring them to one "
            f"config first (gtui retune {args.target} ...), or name one container",
            EXIT_USAGE,
        )
    if args.url or profile.base_url:
        target = load_target_for(profile, args.url, replicas[0])
        urls: tuple[str | None, ...] = tuple(None for _ in replicas)
    else:
        targets = [load_target_for(profile, None, replica) for replica in replicas]
        try:
            target = round_robin_target(targets)
        except TargetError as error:
            raise CliError(f"{args.target}: {error}", EXIT_USAGE) from error
        urls = tuple(t.base_url for t in targets)
    view = ServiceView(monitor.sample, project, service, hosts[0])
    frame = view()
    if not frame.instances:
        raise CliError(f"{args.target}: its replicas went away", EXIT_USAGE)

    def refresh() -> tuple[InstanceSample, ...]:
        view()
        return view.replicas

    engine = ServiceEngine(control, lambda: view.replicas, args.target, view.key, refresh)
    return ServiceSetup(
        text=args.target,
        replicas=tuple(replicas),
        urls=urls,
        view=view,
        engine=engine,
        target=target,
        sample=frame.instances[0],
    )
