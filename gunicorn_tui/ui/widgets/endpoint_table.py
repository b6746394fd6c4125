"""The Endpoints tab: method and path pattern, counts and latency."""

from __future__ import annotations

from gunicorn_tui.traffic.instance_traffic import TrafficView
from gunicorn_tui.traffic.metrics import EndpointTraffic
from gunicorn_tui.ui.widgets.row_table import Cell, Column, Row, RowTable
from gunicorn_tui.ui.widgets.summary_graphs import milliseconds

COLUMNS = (
    Column("method", "Meth", 6),
    Column("path", "Path", 24),
    Column("total", "Total", 7, right=True),
    Column("recent", "60s", 6, right=True),
    Column("5xx", "5xx", 5, right=True),
    Column("4xx", "4xx", 5, right=True),
    Column("p50", "p50", 7, right=True),
    Column("p99", "p99", 7, right=True),
)


def _ms(value: float | None) -> Cell:
    return Cell(milliseconds(value)) if value is not None else Cell("n/a", "dim")


def endpoint_row(endpoint: EndpointTraffic) -> Row:
    latency = endpoint.latency
    return Row(
        f"{endpoint.method} {endpoint.path_pattern}",
        (
            Cell(endpoint.method),
            Cell(endpoint.path_pattern),
            Cell(str(endpoint.requests_total)),
            Cell(str(endpoint.requests_60s)),
            Cell(str(endpoint.server_errors), "error" if endpoint.server_errors else ""),
            Cell(str(endpoint.client_errors), "warning" if endpoint.client_errors else ""),
            Cell(milliseconds(latency.p50_ms))
            if latency.p50_ms is not None
            else Cell("n/a", "dim"),
            Cell(milliseconds(latency.p99_ms))
            if latency.p99_ms is not None
            else Cell("n/a", "dim"),
        ),
    )


class EndpointTable(RowTable):
    """Top endpoints by requests in the last minute, then in total."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(COLUMNS, **kwargs)

    def show(self, view: TrafficView | None) -> None:
        if view is None:
            self.set_rows([])
            return
        endpoints = sorted(
            view.snapshot.endpoints, key=lambda e: (-e.requests_60s, -e.requests_total)
        )
        self.set_rows([endpoint_row(endpoint) for endpoint in endpoints])
