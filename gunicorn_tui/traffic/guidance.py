"""Say which traffic numbers are missing and which Gunicorn flags supply them.

Pure: from an instance's configuration, where its logs go, and what has
arrived so far. Each item names the numbers that are missing and the exact
flags that would bring them, so an operator can copy them into the
server's command line (a retune can apply them).
"""

from __future__ import annotations

from dataclasses import dataclass

from gunicorn_tui.model.instances import ConfigSource, InstanceSample
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


def traffic_guidance(
    sample: InstanceSample,
    view: TrafficView | None,
    statsd_address: tuple[str, int] | None,
    observed_for_s: float,
) -> tuple[Guidance, ...]:
    """What to add to the server's flags to see more."""
    items: list[Guidance] = []
    config = sample.config
    accesslog = config.get("accesslog")
    access_known = accesslog.source is not ConfigSource.UNKNOWN
    fmt = config.value("access_log_format")
    detected = view.lines.access_log_format if view is not None else None
    records = view.lines.access_records if view is not None else 0

    if access_known and not accesslog.value:
        items.append(
            Guidance(
                missing="no access log",
                numbers="request rates, status mix, latency, per-worker and per-endpoint figures",
                flags=f"--access-logfile - {_format_flag(RECOMMENDED_FORMAT)}",
            )
        )
    elif view is not None and records == 0 and observed_for_s >= NO_LINES_AFTER_S:
        reason = "; ".join(view.sources) if view.sources else "no readable log source"
        items.append(
            Guidance(
                missing=f"no access-log lines read yet ({reason})",
                numbers="request rates, status mix, latency",
                flags=f"--access-logfile - {_format_flag(RECOMMENDED_FORMAT)}",
            )
        )
    in_use = detected or (fmt if isinstance(fmt, str) else None)
    if in_use is not None and (records > 0 or access_known):
        try:
            capabilities = format_capabilities(in_use)
        except AccessLogFormatError:
            capabilities = None
        if capabilities is None:
            pass
        elif not capabilities.worker_pid:
            items.append(
                Guidance(
                    missing="no worker pid in the access-log format",
                    numbers="requests per worker, busy share per worker",
                    flags=_format_flag(in_use + " %(p)s"),
                )
            )
        if capabilities is not None and not capabilities.duration:
            items.append(
                Guidance(
                    missing="no request time in the access-log format",
                    numbers="latency p50/p90/p99/max, busy share",
                    flags=_format_flag(in_use + " %(D)s"),
                )
            )
    statsd_host = config.value("statsd_host")
    if statsd_address is not None and config.get("statsd_host").source is not (
        ConfigSource.UNKNOWN
    ):
        host, port = statsd_address
        listening = f"{host}:{port}"
        if not statsd_host:
            items.append(
                Guidance(
                    missing="no StatsD",
                    numbers="listen backlog, worker count gauge, log-level counts",
                    flags=f"--statsd-host {listening}",
                )
            )
        elif isinstance(statsd_host, str) and statsd_host.replace("localhost", "127.0.0.1") != (
            listening
        ):
            items.append(
                Guidance(
                    missing=f"StatsD goes to {statsd_host}, gtui listens on {listening}",
                    numbers="listen backlog, worker count gauge, log-level counts",
                    flags=f"--statsd-host {listening} (or run gtui with --statsd {statsd_host})",
                )
            )
    return tuple(items)
