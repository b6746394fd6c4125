"""``gtui ls`` and ``gtui snapshot``: the headless views of the monitor."""

from __future__ import annotations

import argparse
import json
import sys

from gunicorn_tui.cli.exit_codes import EXIT_OK, EXIT_USAGE, CliError
from gunicorn_tui.cli.target_monitor import open_monitor, sample_settled
from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.model.service_groups import group_instances
from gunicorn_tui.monitor.monitor import MonitorFrame
from gunicorn_tui.output.snapshot_json import snapshot_json
from gunicorn_tui.output.text_table import render_table
from gunicorn_tui.settings.resolve import short_worker_class


def run_snapshot(args: argparse.Namespace) -> int:
    """``gtui snapshot``: sample once, print JSON or a readable summary."""
    if args.interval <= 0 or args.interval > 60:
        raise CliError("--interval must be between 0 and 60 seconds", EXIT_USAGE)
    monitor = open_monitor(args)
    try:
        frame = sample_settled(monitor, args.interval)
    finally:
        monitor.close()
    if args.json:
        from gunicorn_tui.capacity.gather import gather_capacity

        capacity = {
            sample.key: gather_capacity(sample, frame.traffic.get(sample.key))
            for sample in frame.instances
        }
        document = snapshot_json(
            frame.instances,
            frame.docker,
            frame.taken_at,
            frame.notices,
            frame.traffic,
            capacity,
            frame.engines,
        )
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    for sample in frame.instances:
        print(describe_instance(sample))
        print()
    print(docker_line(frame))
    return EXIT_OK


def run_ls(args: argparse.Namespace) -> int:
    """``gtui ls``: a table of discovered servers."""
    monitor = open_monitor(args, collect_traffic=False)
    try:
        # The listing shows no CPU figure: no interval to wait for.
        frame = sample_settled(monitor, 0.0, need_cpu=False)
    finally:
        monitor.close()
    if args.json:
        document = snapshot_json(
            frame.instances,
            frame.docker,
            frame.taken_at,
            frame.notices,
            frame.traffic,
            engines=frame.engines,
        )
        rows = [
            {
                key: instance[key]
                for key in ("key", "host", "source", "container", "gunicorn_version")
            }
            | {
                "master_pid": instance["master"]["pid"],
                "worker_class": instance["config"]["worker_class"]["value"],
                "workers": instance["workers_current"],
                "bind": instance["config"]["bind"]["value"],
            }
            for instance in document["instances"]
        ]
        listing = {
            "instances": rows,
            "docker": document["docker"],
            "engines": document["engines"],
            "notices": document["notices"],
        }
        json.dump(listing, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    header: tuple[str, ...] = (
        "SOURCE",
        "CONTAINER",
        "MASTER",
        "VERSION",
        "CLASS",
        "WORKERS",
        "BIND",
    )
    rows_text = [ls_row(sample) for sample in frame.instances]
    if len(frame.engines) > 1:
        header = ("HOST", *header)
        rows_text = [
            (sample.host + (" (stale)" if sample.stale else ""), *row)
            for sample, row in zip(frame.instances, rows_text, strict=True)
        ]
    print(render_table(header, rows_text))
    if not frame.instances:
        print("(no Gunicorn servers found)")
    for group in group_instances(frame.instances):
        if group.service is None:
            continue
        totals = group.totals()
        names = ", ".join(m.container.name for m in group.members if m.container is not None)
        print(
            f"compose service {group.service}: {totals.replicas} replicas ({names}), "
            f"{totals.workers} workers; act on all with TARGET {group.service}"
        )
    for notice in frame.notices:
        print(f"note: {notice}")
    print(docker_line(frame))
    return EXIT_OK


def ls_row(sample: InstanceSample) -> tuple[str, ...]:
    config = sample.config
    worker_class = config.worker_class
    workers = str(len(sample.workers))
    if sample.workers_target is not None and sample.workers_target != len(sample.workers):
        workers += f"/{sample.workers_target}"
    master = str(sample.master.pid)
    if sample.master.ns_pid is not None and sample.master.ns_pid != sample.master.pid:
        master += f" ({sample.master.ns_pid})"
    return (
        sample.source.value,
        sample.container.name if sample.container else "-",
        master,
        sample.gunicorn_version or "?",
        short_worker_class(worker_class) if worker_class else "?",
        workers,
        str(config.value("bind") or "?"),
    )


def docker_line(frame: MonitorFrame) -> str:
    if len(frame.engines) > 1:
        return "\n".join(
            f"engine {status.name}: {status.state.value} ({status.message})"
            for status in frame.engines
        )
    return f"docker: {frame.docker.state.value} ({frame.docker.message})"


def _mib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 1048576:.1f}MiB"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def describe_instance(sample: InstanceSample) -> str:
    """A readable multi-line summary of one instance."""
    where = sample.container.name if sample.container else "host"
    lines = [
        f"{sample.source.value} {where} master {sample.master.pid} [{sample.name}]"
        f" gunicorn {sample.gunicorn_version or '?'}",
        "  config: "
        + ", ".join(
            f"{name}={sample.config.value(name)} ({sample.config.get(name).source.value})"
            for name in ("workers", "worker_class", "threads", "timeout", "bind")
        ),
        f"  totals: cpu {_pct(sample.totals.cpu_percent)}"
        f" memory {_mib(sample.totals.memory_bytes)}",
    ]
    header = ("PID", "NSPID", "STATE", "CPU", "USS", "RSS", "AGE", "HEARTBEAT")
    rows = [
        (
            str(w.pid),
            str(w.ns_pid) if w.ns_pid is not None else "n/a",
            w.state.value,
            _pct(w.process.cpu_percent),
            _mib(w.process.uss_bytes),
            _mib(w.process.rss_bytes),
            "n/a" if w.process.age_s is None else f"{w.process.age_s:.0f}s",
            "n/a" if w.heartbeat_age_s is None else f"{w.heartbeat_age_s:.1f}s",
        )
        for w in sample.workers
    ]
    lines.append(render_table(header, rows, indent="  "))
    for warning in sample.warnings + sample.config.warnings:
        lines.append(f"  note: {warning}")
    return "\n".join(lines)
