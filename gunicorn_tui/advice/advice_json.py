"""The JSON form of advice (``gtui advise --json``)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from gunicorn_tui.advice.collect import AdviceReport
from gunicorn_tui.advice.items import AdviceItem
from gunicorn_tui.output.capacity_json import capacity_json

SCHEMA = "gtui.advice/1"


def advice_item_json(item: AdviceItem) -> dict[str, Any]:
    """One item: kind, title, detail, evidence and the retune it prepares."""
    return {
        "rule": item.rule,
        "kind": item.kind.value,
        "title": item.title,
        "detail": item.detail,
        "evidence": [
            {"name": e.name, "value": e.value, "unit": e.unit or None} for e in item.evidence
        ],
        "retune": item.retune.changes() if item.retune is not None else None,
    }


def advice_json(report: AdviceReport) -> dict[str, Any]:
    """The whole ``gtui advise --json`` document for one instance."""
    return {
        "schema": SCHEMA,
        "instance": {"key": report.sample.key, "label": report.sample.label},
        "items": [advice_item_json(item) for item in report.items],
        "capacity": capacity_json(report.capacity),
        "observation": asdict(report.observation),
        "classes_available": dict(report.classes_available),
    }
