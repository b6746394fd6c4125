"""The worker state rule, checked row by row against ``data/worker_states.csv``.

Each row is one situation with the state the rule in
``gunicorn_tui/sampling/worker_state.py`` must give and why.
"""

from __future__ import annotations

import csv

import pytest

from gunicorn_tui.model.instances import WorkerState
from gunicorn_tui.sampling.worker_state import WorkerEvidence, derive_state
from tests.core.data_files import data_path


def _float(text: str) -> float | None:
    return float(text) if text else None


def _int(text: str) -> int | None:
    return int(text) if text else None


def _bool(text: str) -> bool | None:
    return {"true": True, "false": False, "": None}[text]


def _rows() -> list[dict[str, str]]:
    with data_path("worker_states.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


ROWS = _rows()


def test_the_table_covers_every_state() -> None:
    assert {row["expected"] for row in ROWS} == {state.value for state in WorkerState}


@pytest.mark.parametrize("row", ROWS, ids=[row["why"] for row in ROWS])
def test_derive_state(row: dict[str, str]) -> None:
    evidence = WorkerEvidence(
        worker_class=row["worker_class"] or None,
        timeout_s=_float(row["timeout_s"]),
        age_s=_float(row["age_s"]),
        heartbeat_age_s=_float(row["heartbeat_age_s"]),
        heartbeat_ever_touched=_bool(row["heartbeat_ever_touched"]),
        cpu_percent=_float(row["cpu_percent"]),
        client_connections=_int(row["client_connections"]),
    )
    assert derive_state(evidence) is WorkerState(row["expected"])
