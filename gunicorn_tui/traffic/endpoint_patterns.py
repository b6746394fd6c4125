"""Group request paths into endpoints: ids in path segments become ``:id``.

``/items/123``, ``/users/6f1c…-…/orders`` and ``/blobs/deadbeefcafe0042``
become ``/items/:id``, ``/users/:id/orders`` and ``/blobs/:id``, so a table of
endpoints stays short however many objects an API serves. A segment is an
id when it is all digits, a UUID, or a long hex string with a digit in it
(commit hashes, object ids); words like ``feed`` or ``cafe`` stay.
"""

from __future__ import annotations

import re
from typing import Final

ID_PLACEHOLDER: Final = ":id"

_UUID_RE: Final = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)
_HEX_RE: Final = re.compile(r"[0-9a-fA-F]{8,}")
_DIGIT_RE: Final = re.compile(r"\d")
# Paths longer than this are cut before grouping: nothing readable is lost
# and a hostile path cannot make the cache hold megabytes.
MAX_PATH_CHARS: Final = 512


def is_id_segment(segment: str) -> bool:
    """True if a path segment looks like an object id."""
    if not segment:
        return False
    if segment.isdigit():
        return True
    if len(segment) >= 32 and _UUID_RE.fullmatch(segment):
        return True
    return (
        len(segment) >= 8
        and _HEX_RE.fullmatch(segment) is not None
        and _DIGIT_RE.search(segment) is not None
    )


def endpoint_pattern(path: str) -> str:
    """``path`` with id segments replaced by ``:id`` (query not included)."""
    if len(path) > MAX_PATH_CHARS:
        path = path[:MAX_PATH_CHARS] + "…"
    segments = path.split("/")
    changed = False
    for position, segment in enumerate(segments):
        if is_id_segment(segment):
            segments[position] = ID_PLACEHOLDER
            changed = True
    return "/".join(segments) if changed else path


class EndpointPatternCache:
    """``endpoint_pattern`` with a bounded cache: hot paths repeat, and the
    pattern is computed once per distinct path while the cache has room."""

    __slots__ = ("_cache", "max_entries")

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._cache: dict[str, str] = {}

    def pattern(self, path: str) -> str:
        """The endpoint pattern of ``path``."""
        cached = self._cache.get(path)
        if cached is not None:
            return cached
        pattern = endpoint_pattern(path)
        if len(self._cache) >= self.max_entries:
            # Ids make most distinct paths one-offs; starting over is cheaper
            # than tracking recency and keeps memory flat.
            self._cache.clear()
        self._cache[path] = pattern
        return pattern
