"""What most commands do first: open a monitor on their TARGET(s), settle a
sample, pick the one instance an action is about, and ask before acting.

Shared by every command module; none of them imports another's helpers.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

from gunicorn_tui.access.endpoints import (
    EndpointError,
    EngineEndpoint,
    is_default_setup,
    resolve_endpoints,
)
from gunicorn_tui.cli.exit_codes import EXIT_FAILURE, EXIT_USAGE, CliError
from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.monitor.monitor import Monitor, MonitorFrame, MonitorOptions, ensure_any
from gunicorn_tui.monitor.targets import Target, TargetKind, TargetNotFound, parse_target

# Runtime probes (the Gunicorn version) get this long to answer.
PROBE_WAIT_S = 5.0
# An action or a measurement waits this long for Docker's first list: a busy
# daemon must not turn into "Docker unreachable".
DOCKER_WAIT_S = 15.0


def parse_statsd_address(text: str | None) -> tuple[str, int] | None:
    """``HOST:PORT`` for the StatsD listener, or None for ``off``."""
    if text is None or text.lower() in ("off", "none", ""):
        return None
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CliError(f"--statsd {text!r}: expected HOST:PORT or off", EXIT_USAGE)
    return host, int(port)


def args_engines_given(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "engine_hosts", None) or getattr(args, "engine_contexts", None))


def engine_endpoints(args: argparse.Namespace) -> tuple[EngineEndpoint, ...]:
    """The engines ``-H``/``--context`` name, else the one ``docker`` would use
    when it is not this machine's default socket (empty: the default, as ever)."""
    hosts = getattr(args, "engine_hosts", None) or []
    contexts = getattr(args, "engine_contexts", None) or []
    try:
        endpoints = resolve_endpoints(hosts, contexts)
    except EndpointError as error:
        if hosts or contexts:
            raise CliError(str(error), EXIT_USAGE) from error
        return ()  # the engine's own client says what is wrong, at connect
    if not hosts and not contexts and is_default_setup(endpoints):
        return ()
    return endpoints


def engine_names(args: argparse.Namespace) -> tuple[str, ...]:
    """The names ``HOST/CONTAINER`` targets may use for the engines given."""
    return tuple(endpoint.name for endpoint in engine_endpoints(args))


def parse_args_target(args: argparse.Namespace, text: str) -> Target:
    """``text`` parsed with the engines of ``-H``/``--context`` known, so that
    ``HOST/CONTAINER`` is not taken for a Compose ``PROJECT/SERVICE``."""
    return parse_target(text, engine_names(args))


def open_monitor(
    args: argparse.Namespace, collect_traffic: bool = True, *, engine_client_delay_s: float = 0.0
) -> Monitor:
    """A Monitor for the command's TARGETs (``args.targets``) and discovery
    options, targets checked (``engine_client_delay_s``: see MonitorOptions)."""
    names = engine_names(args)
    targets = tuple(parse_target(text, names) for text in getattr(args, "targets", []) or [])
    return _open(
        args,
        targets,
        collect_traffic=collect_traffic,
        wait_for_docker_s=None,
        engine_client_delay_s=engine_client_delay_s,
    )


def open_target_monitor(args: argparse.Namespace) -> Monitor:
    """A Monitor for the command's single TARGET (``args.target``), waiting
    longer for Docker's first answer than ``gtui ls`` does."""
    return _open(args, (parse_args_target(args, args.target),), wait_for_docker_s=DOCKER_WAIT_S)


def _open(
    args: argparse.Namespace,
    targets: tuple[Target, ...],
    *,
    collect_traffic: bool = True,
    wait_for_docker_s: float | None,
    engine_client_delay_s: float = 0.0,
) -> Monitor:
    containers = [t.text for t in targets if t.kind is not TargetKind.PID]
    if args.no_docker and containers:
        raise CliError(
            f"container targets ({', '.join(containers)}) need Docker: drop --no-docker",
            EXIT_USAGE,
        )
    engines = engine_endpoints(args)
    if args.no_docker and engines and (args_engines_given(args)):
        raise CliError("-H/--context name Docker engines: drop --no-docker", EXIT_USAGE)
    monitor = Monitor(
        MonitorOptions(
            targets=targets,
            use_docker=not args.no_docker,
            force_api=args.api_only,
            engines=engines,
            statsd_address=parse_statsd_address(getattr(args, "statsd", None)),
            collect_traffic=collect_traffic,
            engine_client_delay_s=engine_client_delay_s,
        )
    )
    try:
        if wait_for_docker_s is None:
            monitor.open()
        else:
            monitor.open(wait_for_docker_s=wait_for_docker_s)
        monitor.check_targets()
    except BaseException:
        monitor.close()
        raise
    return monitor


def sample_settled(monitor: Monitor, interval_s: float, *, need_cpu: bool = True) -> MonitorFrame:
    """Two samples ``interval_s`` apart (CPU needs an interval), with runtime
    probes (Gunicorn version) given a few seconds to answer. Without
    ``need_cpu`` the second sample follows at once (it only picks up what
    the probes found)."""
    first = monitor.sample()
    if need_cpu:
        time.sleep(max(0.05, interval_s))
    monitor.wait_for_probes(PROBE_WAIT_S)
    frame = monitor.sample()
    ensure_any(frame, monitor.options.targets)
    if first.notices:
        # Said once, at the first sample (a StatsD port in use): keep it.
        notices = tuple(dict.fromkeys(first.notices + frame.notices))
        frame = replace(frame, notices=notices)
    return frame


def select_instance(monitor: Monitor, text: str) -> InstanceSample:
    """The one Gunicorn instance TARGET ``text`` names (a container with
    several masters must be named by pid)."""
    frame = sample_settled(monitor, 0.2)
    target = parse_target(text, monitor.engine_names)
    instances = list(frame.instances)
    if target.kind is TargetKind.PID:
        instances = [
            sample
            for sample in instances
            if sample.master.pid == target.pid or any(w.pid == target.pid for w in sample.workers)
        ]
        if target.host is not None:
            # HOST/pid:N: that host's process, not this machine's of the same number.
            instances = [sample for sample in instances if sample.host == target.host]
    if not instances:
        raise TargetNotFound(f"no Gunicorn server found in {text}")
    if len(instances) > 1 and target.kind is TargetKind.SERVICE:
        names = ", ".join(s.container.name if s.container else s.label for s in instances)
        raise CliError(
            f"{text} has {len(instances)} replicas ({names}): name one container here",
            EXIT_USAGE,
        )
    hosts = sorted({s.host for s in instances if s.container is not None})
    if len(hosts) > 1:
        named = ", ".join(f"{host}/{text}" for host in hosts)
        raise CliError(f"{text} is on {len(hosts)} engines; name one of them: {named}", EXIT_USAGE)
    if len(instances) > 1:
        masters = ", ".join(f"pid:{s.master.pid}" for s in instances)
        raise CliError(
            f"{text} runs {len(instances)} Gunicorn masters; name one of them: {masters}",
            EXIT_USAGE,
        )
    return instances[0]


def select_replicas(monitor: Monitor, text: str) -> list[InstanceSample]:
    """The Gunicorn instances of Compose service ``text`` (``PROJECT/SERVICE``),
    one per replica, in replica order; each replica must run one master."""
    frame = sample_settled(monitor, 0.2)
    by_container: dict[str, list[InstanceSample]] = {}
    for sample in frame.instances:
        if sample.container is not None:
            by_container.setdefault(sample.container.id, []).append(sample)
    replicas: list[InstanceSample] = []
    for samples in by_container.values():
        if len(samples) > 1:
            name = samples[0].container.name if samples[0].container else "?"
            raise CliError(
                f"{text}: replica {name} runs {len(samples)} Gunicorn masters; act on it by pid",
                EXIT_USAGE,
            )
        replicas.append(samples[0])
    if not replicas:
        raise TargetNotFound(f"no Gunicorn server found in {text}")

    def order(sample: InstanceSample) -> tuple[int, str]:
        container = sample.container
        compose = container.compose if container is not None else None
        number = (compose.number or 0) if compose is not None else 0
        return number, container.name if container is not None else ""

    return sorted(replicas, key=order)


def confirm(args: argparse.Namespace) -> None:
    """Ask "Proceed?" on the terminal unless ``--yes``; refuse without a tty."""
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise CliError("no terminal to confirm on: pass --yes to act", EXIT_USAGE)
    sys.stderr.write("Proceed? [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise CliError("cancelled", EXIT_FAILURE)


def refuse_if_read_only(args: argparse.Namespace) -> None:
    """Refuse an action before anything is touched, even before sampling."""
    if getattr(args, "read_only", False):
        raise CliError("read-only session: actions are disabled (--read-only)", EXIT_FAILURE)
