"""What the control path reads from a container's inspect, and how it marks its own.

Containers gtui creates (a re-create's replacement) carry the label
:data:`RETUNE_LABEL` with the id of the action's journal: a rollback or
``gtui recover`` removes a container only when it carries the label of the
very action being settled, never one that merely has the expected name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

RETUNE_LABEL = "io.gunicorn-tui.retune"
REPLACES_LABEL = "io.gunicorn-tui.replaces"


def container_name(inspect: Mapping[str, Any]) -> str:
    return str(inspect.get("Name", "")).lstrip("/")


def is_running(inspect: Mapping[str, Any]) -> bool:
    return bool((inspect.get("State") or {}).get("Running"))


def labels_of(inspect: Mapping[str, Any]) -> Mapping[str, str]:
    return dict((inspect.get("Config") or {}).get("Labels") or {})


def created_by(inspect: Mapping[str, Any], journal_id: str) -> bool:
    """True when gtui created this container for the action ``journal_id``."""
    return bool(journal_id) and labels_of(inspect).get(RETUNE_LABEL) == journal_id


def labelled(body: Mapping[str, Any], journal_id: str, replaces: str) -> dict[str, Any]:
    """A create body whose container says which action made it and whom it replaces."""
    out = dict(body)
    labels = dict(out.get("Labels") or {})
    labels[RETUNE_LABEL] = journal_id
    labels[REPLACES_LABEL] = replaces
    out["Labels"] = labels
    return out


def exit_reason(inspect: Mapping[str, Any]) -> str | None:
    """Why a container is not running ("exited with code 1"), or None if it runs."""
    state = inspect.get("State") or {}
    if state.get("Running"):
        return None
    status = state.get("Status", "not running")
    code = state.get("ExitCode")
    error = state.get("Error")
    text = f"container {container_name(inspect)} {status}"
    if code is not None and status in ("exited", "dead"):
        text += f" with code {code}"
    if error:
        text += f": {error}"
    return text
