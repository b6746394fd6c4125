"""Say which traffic numbers are missing and which Gunicorn flags supply them.

Pure: from an instance's configuration, where its logs go, and what has
arrived so far. Each item names the numbers that are missing and the exact
flags that would bring them, so an operator can copy them into the
server's command line (a retune can apply them).
"""

from __future__ import annotations

from dataclasses import dataclass

from gunicorn_tui.model.instances import ConfigSource, InstanceSample, Source
from gunicorn_tui.traffic.access_log_format import AccessLogFormatError, format_capabilities
from gunicorn_tui.traffic.instance_traffic import TrafficView

# Gunicorn's default access-log format plus the worker pid and the request
# time in microseconds: what gtui reads best.
RECOMMENDED_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(p)s %(D)s'
# Quiet period after which "nothing arrived" is worth saying.
NO_LINES_AFTER_S = 10.0


@dataclass(frozen=True)
class Guidance:
    """One missing source: what it costs and how to get it."""

    missing: str
    numbers: str
    flags: str


def _format_flag(fmt: str) -> str:
    return "--access-logformat '" + fmt.replace("'", "'\\''") + "'"


def access_log_flags(sample: InstanceSample) -> str:
    """The flags that turn the access log on where gtui can read it: stdout
    for a container (its log stream), a file in the server's working
    directory for a host process (its stdout may be a pipe or a terminal
    that gtui cannot read without stealing the lines)."""
    target = "-" if sample.source is Source.DOCKER else "access.log"
    return f"--access-logfile {target} {_format_flag(RECOMMENDED_FORMAT)}"


def _format_guidance(fmt: str) -> Guidance | None:
    try:
        capabilities = format_capabilities(fmt)
    except AccessLogFormatError:
        return None
    atoms: list[str] = []
    missing: list[str] = []
    numbers: list[str] = []
    if not capabilities.worker_pid:
        atoms.append("%(p)s")
        missing.append("no worker pid")
        numbers.append("requests per worker")
    if not capabilities.duration:
        atoms.append("%(D)s")
        missing.append("no request time")
        numbers.append("latency p50/p90/p99/max")
    if not atoms:
        return None
    numbers.append("busy share per worker")
    # One flag with every atom: two --access-logformat flags would not add up.
    return Guidance(
        missing=" and ".join(missing) + " in the access-log format",
        numbers=", ".join(numbers),
        flags=_format_flag(fmt + " " + " ".join(atoms)),
    )


def traffic_guidance(
    sample: InstanceSample,
    view: TrafficView | None,
    statsd_address: tuple[str, int] | None,
    observed_for_s: float,
) -> tuple[Guidance, ...]:
    """What to add to the server's flags to see more.

    ``statsd_address`` is where gtui's StatsD listener receives (None when
    it does not listen: no StatsD advice then); ``observed_for_s`` how long
    the instance has been watched (silence says little at first).
    """
    items: list[Guidance] = []
    config = sample.config
    accesslog = config.get("accesslog")
    access_known = accesslog.source is not ConfigSource.UNKNOWN
    fmt = config.value("access_log_format")
    detected = view.lines.access_log_format if view is not None else None
    records = view.lines.access_records if view is not None else 0

    if access_known and not accesslog.value and records == 0:
        # Lines that read as access lines beat a configuration that says
        # none (an app logging its own, a value read before a reload).
        items.append(
            Guidance(
                missing="no access log",
                numbers="request rates, status mix, latency, per-worker and per-endpoint figures",
                flags=access_log_flags(sample),
            )
        )
    elif view is not None and records == 0 and observed_for_s >= NO_LINES_AFTER_S:
        reasons = list(view.notes) or list(view.sources) or ["no readable log source"]
        items.append(
            Guidance(
                missing=f"no access-log lines read yet ({'; '.join(reasons)})",
                numbers="request rates, status mix, latency",
                flags=access_log_flags(sample),
            )
        )
    in_use = detected or (fmt if isinstance(fmt, str) else None)
    if in_use is not None and (records > 0 or (access_known and accesslog.value)):
        item = _format_guidance(in_use)
        if item is not None:
            items.append(item)

    if statsd_address is not None and not (view is not None and "statsd" in view.sources):
        listening = f"{statsd_address[0]}:{statsd_address[1]}"
        statsd_host = config.value("statsd_host")
        numbers = "listen backlog, worker count gauge, log-level counts"
        if isinstance(statsd_host, str) and statsd_host:
            items.append(
                Guidance(
                    missing=f"StatsD goes to {statsd_host}, gtui listens on {listening}",
                    numbers=numbers,
                    flags=f"--statsd-host {listening} (or run gtui with --statsd {statsd_host})",
                )
            )
        else:
            items.append(
                Guidance(missing="no StatsD", numbers=numbers, flags=f"--statsd-host {listening}")
            )
    return tuple(items)
