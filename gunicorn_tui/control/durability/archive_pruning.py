"""Keep archives short: the last few finished actions of each target.

An archived journal keeps what ``gtui revert`` needs and, with it, secrets
(the original container's inspect, ``Env`` included; a host master's
environment). Forever is too long to keep them: once an action is archived,
only the newest :data:`ARCHIVE_KEEP` of its target stay, plus whichever older
ones the caller still needs (the retune ``gtui revert`` would undo). Files
that cannot be read are left alone, never deleted on a guess.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gunicorn_tui.control.durability.state_dir import fsync_dir

ARCHIVE_KEEP = 10

Record = Mapping[str, Any]


def prune_archive(
    directory: Path,
    target_of: Callable[[Record], str | None],
    target: str,
    *,
    keep: int = ARCHIVE_KEEP,
    needed: Callable[[Record], bool] = lambda _record: False,
) -> list[Path]:
    """Remove the archived ``*.json`` files of ``target`` (as ``target_of``
    reads it from a file's JSON) beyond the newest ``keep``, sparing the
    newest file for which ``needed`` is true. Returns the removed paths."""
    mine: list[tuple[float, Path, Record]] = []
    for path in directory.glob("*.json"):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and target_of(data) == target:
            mine.append((float(data.get("created_at") or 0.0), path, data))
    mine.sort(key=lambda item: item[0], reverse=True)
    spared = next((path for _, path, data in mine if needed(data)), None)
    removed = []
    for _, path, _data in mine[keep:]:
        if path == spared:
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path)
    if removed:
        fsync_dir(directory)
    return removed
