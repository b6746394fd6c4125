"""Workers of the selected instance, one row per worker, updated in place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from gunicorn_tui.model.instances import InstanceSample, WorkerSample, WorkerState
from gunicorn_tui.output.units import (
    NOT_AVAILABLE,
    format_bytes,
    format_duration,
    format_heartbeat,
    format_percent,
)
from gunicorn_tui.traffic.access_log_format import AccessLogFormatError, format_capabilities
from gunicorn_tui.traffic.instance_traffic import TrafficView
from gunicorn_tui.traffic.metrics import WorkerTraffic
from gunicorn_tui.ui.widgets.row_table import Cell, Column, Row, RowTable

COLUMNS: tuple[Column, ...] = (
    Column("pid", "PID", 7, right=True),
    Column("ns_pid", "CPID", 5, right=True),
    Column("state", "State", 7),
    Column("cpu", "CPU%", 6, right=True),
    Column("uss", "USS", 6, right=True),
    Column("rss", "RSS", 6, right=True),
    Column("age", "Age", 6, right=True),
    Column("heartbeat", "Beat", 5, right=True),
    Column("connections", "Conn", 4, right=True),
    Column("rate", "Req/s", 6, right=True),
    Column("busy", "Busy%", 5, right=True),
)

STATE_STYLE = {
    WorkerState.IDLE: "good",
    WorkerState.BUSY: "warning",
    WorkerState.STUCK: "error",
    WorkerState.BOOTING: "accent",
    WorkerState.UNKNOWN: "dim",
}

_STATE_ORDER = {
    WorkerState.STUCK: 0,
    WorkerState.BUSY: 1,
    WorkerState.BOOTING: 2,
    WorkerState.IDLE: 3,
    WorkerState.UNKNOWN: 4,
}


@dataclass(frozen=True)
class SortOrder:
    """One way to order workers: a name for the title and a key."""

    name: str
    key: Callable[[WorkerSample], tuple[float, float]]


def _num(value: float | int | None, missing: float = -1.0) -> float:
    return float(value) if value is not None else missing


SORT_ORDERS: tuple[SortOrder, ...] = (
    SortOrder("pid", lambda w: (_num(w.pid), 0.0)),
    SortOrder("cpu", lambda w: (-_num(w.process.cpu_percent), _num(w.pid))),
    SortOrder("memory", lambda w: (-_num(w.process.uss_bytes or w.process.rss_bytes), _num(w.pid))),
    SortOrder("state", lambda w: (float(_STATE_ORDER[w.state]), _num(w.pid))),
    SortOrder("age", lambda w: (_num(w.process.age_s), _num(w.pid))),
    SortOrder("heartbeat", lambda w: (-_num(w.heartbeat_age_s), _num(w.pid))),
)


def _figure(text: str) -> Cell:
    return Cell(text, "dim" if text == NOT_AVAILABLE else "")


@lru_cache(maxsize=16)
def format_has_worker_pid(access_log_format: str | None) -> bool:
    """Whether lines in this format name their worker (``%(p)s``)."""
    if access_log_format is None:
        return False
    try:
        return format_capabilities(access_log_format).worker_pid
    except AccessLogFormatError:
        return False


def _traffic_cells(traffic: WorkerTraffic | None, has_pids: bool) -> tuple[Cell, Cell]:
    if traffic is None:
        # No line named this worker: with pids in the log that means no
        # requests; without them it is unknown.
        return (Cell("0"), Cell("0")) if has_pids else (Cell("n/a", "dim"), Cell("n/a", "dim"))
    busy = traffic.busy_share_10s
    return (
        Cell(f"{traffic.requests_per_s_10s:.1f}"),
        Cell(f"{busy * 100:.0f}") if busy is not None else Cell("n/a", "dim"),
    )


def worker_row(
    worker: WorkerSample, traffic: WorkerTraffic | None = None, has_pids: bool = False
) -> Row:
    """The row of one worker."""
    connections = worker.client_connections
    return Row(
        str(worker.pid),
        (
            _figure(str(worker.pid) if worker.pid is not None else NOT_AVAILABLE),
            _figure(str(worker.ns_pid) if worker.ns_pid is not None else NOT_AVAILABLE),
            Cell(worker.state.value, STATE_STYLE[worker.state]),
            _figure(format_percent(worker.process.cpu_percent)),
            _figure(format_bytes(worker.process.uss_bytes)),
            _figure(format_bytes(worker.process.rss_bytes)),
            _figure(format_duration(worker.process.age_s)),
            _figure(format_heartbeat(worker.heartbeat_age_s)),
            _figure(str(connections) if connections is not None else NOT_AVAILABLE),
            *_traffic_cells(traffic, has_pids),
        ),
    )


class WorkerTable(RowTable):
    """Workers keyed by pid."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(COLUMNS, **kwargs)

    def show(
        self,
        sample: InstanceSample | None,
        sort: SortOrder,
        filter_text: str = "",
        traffic: TrafficView | None = None,
    ) -> None:
        """Show the workers of ``sample`` (all of them, or those matching)."""
        if sample is None:
            self.set_rows([])
            return
        workers = sorted(sample.workers, key=sort.key)
        if filter_text:
            text = filter_text.lower()
            matching = [w for w in workers if text in f"{w.pid} {w.ns_pid} {w.state.value}".lower()]
            workers = matching or workers
        by_pid = {
            worker.host_pid: worker
            for worker in (traffic.snapshot.workers if traffic is not None else ())
            if worker.host_pid is not None
        }
        has_pids = bool(by_pid) or (
            traffic is not None
            and traffic.request_source == "access log"
            and format_has_worker_pid(traffic.lines.access_log_format)
        )
        self.set_rows(
            [worker_row(worker, by_pid.get(worker.pid or -1), has_pids) for worker in workers]
        )
