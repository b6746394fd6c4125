"""The stream ``gtui agent`` writes and a local gtui reads over SSH.

One plain JSON line first, the hello::

    {"agent": "gtui.agent/1", "schema": "gtui.snapshot/2", "version": "...", "host": "..."}

then a zlib stream (flushed after every frame) of JSON lines, one per
sample: the instance records of ``gtui watch --jsonl`` (same schema), sent
as deltas against the record last sent for the same instance::

    {"t": TAKEN_AT, "i": {KEY: {"s": [[PATH, VALUE], ...], "d": [PATH, ...]}},
     "g": [KEY, ...], "n": [NOTICE, ...]}

A PATH is a list of object keys (strings) and list indices (numbers); ``s``
sets leaves, ``d`` deletes them, ``g`` names instances gone. A record seen
for the first time is all ``s``. A reader of another ``agent`` or
``schema`` version does not guess: it says so and does without the agent.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

AGENT_PROTOCOL = "gtui.agent/1"
MAX_LINE_BYTES = 4 << 20

Path = tuple[str | int, ...]


class AgentStreamError(ValueError):
    """The stream is not what this gtui reads."""


def flatten(value: Any, prefix: Path = ()) -> dict[Path, Any]:
    """Leaves of a JSON value by path (empty objects and lists are leaves)."""
    if isinstance(value, dict) and value:
        found: dict[Path, Any] = {}
        for key, item in value.items():
            found.update(flatten(item, (*prefix, str(key))))
        return found
    if isinstance(value, list) and value:
        found = {}
        for index, item in enumerate(value):
            found.update(flatten(item, (*prefix, index)))
        return found
    return {prefix: value}


def unflatten(leaves: Mapping[Path, Any]) -> Any:
    """The JSON value whose leaves these are (lists from number keys)."""
    if () in leaves:
        return leaves[()]
    root: dict[str | int, Any] = {}
    for path, value in leaves.items():
        node = root
        for step in path[:-1]:
            node = node.setdefault(step, {})
        node[path[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(isinstance(key, int) for key in node):
        return [_lists(node[index]) for index in sorted(node)]
    return {str(key): _lists(item) for key, item in node.items()}


def delta(before: Mapping[Path, Any], after: Mapping[Path, Any]) -> dict[str, list[Any]]:
    """What turns the leaves ``before`` into ``after``: ``s`` set, ``d`` deleted."""
    changed = [[list(path), value] for path, value in after.items()
               if path not in before or before[path] != value]  # fmt: skip
    removed = [list(path) for path in before.keys() - after.keys()]
    result: dict[str, list[Any]] = {}
    if changed:
        result["s"] = changed
    if removed:
        result["d"] = removed
    return result


def apply_delta(leaves: dict[Path, Any], change: Mapping[str, Any]) -> None:
    """Apply a delta (from :func:`delta`) to ``leaves`` in place."""
    for path in change.get("d") or []:
        leaves.pop(_path(path), None)
    for path, value in change.get("s") or []:
        leaves[_path(path)] = value


def _path(raw: Any) -> Path:
    if not isinstance(raw, list) or not all(isinstance(step, str | int) for step in raw):
        raise AgentStreamError(f"bad path in the agent stream: {raw!r}"[:200])
    return tuple(raw)


@dataclass
class FrameEncoder:
    """The agent's side: frames in, compressed bytes out."""

    _sent: dict[str, dict[Path, Any]] = field(default_factory=dict)
    _zlib: Any = field(default_factory=lambda: zlib.compressobj(6))

    def frame(
        self, taken_at: float, records: Mapping[str, Any], notices: tuple[str, ...] = ()
    ) -> bytes:
        """One frame's bytes: deltas against what was sent before."""
        changes: dict[str, Any] = {}
        for key, record in records.items():
            leaves = flatten(record)
            change = delta(self._sent.get(key, {}), leaves)
            self._sent[key] = leaves
            changes[key] = change
        gone = sorted(self._sent.keys() - records.keys())
        for key in gone:
            del self._sent[key]
        message: dict[str, Any] = {"t": round(taken_at, 3), "i": changes}
        if gone:
            message["g"] = gone
        if notices:
            message["n"] = list(notices)
        line = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        compressed: bytes = self._zlib.compress(line) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
        return compressed


@dataclass(frozen=True)
class AgentFrame:
    """One sample of the remote host: every instance record, whole again."""

    taken_at: float
    records: Mapping[str, Mapping[str, Any]]
    notices: tuple[str, ...]


class FrameDecoder:
    """The local side: compressed bytes in, whole frames out."""

    def __init__(self) -> None:
        self._zlib = zlib.decompressobj()
        self._pending = b""
        self._leaves: dict[str, dict[Path, Any]] = {}

    def feed(self, data: bytes) -> Iterator[AgentFrame]:
        """The frames completed by ``data``."""
        # Bounded: a remote end that sends a compression bomb gets an error,
        # not this process's memory.
        compressed = data
        while True:
            try:
                self._pending += self._zlib.decompress(compressed, MAX_LINE_BYTES)
            except zlib.error as error:
                raise AgentStreamError(f"agent stream corrupt: {error}") from error
            while b"\n" in self._pending:
                line, self._pending = self._pending.split(b"\n", 1)
                yield self._frame(line)
            if len(self._pending) > MAX_LINE_BYTES:
                raise AgentStreamError("agent stream: a frame larger than 4 MiB")
            compressed = self._zlib.unconsumed_tail
            if not compressed:
                return

    def _frame(self, line: bytes) -> AgentFrame:
        try:
            message = json.loads(line)
            changes = message["i"]
            taken_at = float(message["t"])
        except (ValueError, KeyError, TypeError) as error:
            raise AgentStreamError(f"agent stream: unreadable frame ({error})") from error
        if not isinstance(changes, dict):
            raise AgentStreamError("agent stream: unreadable frame")
        for key in message.get("g") or []:
            self._leaves.pop(str(key), None)
        for key, change in changes.items():
            leaves = self._leaves.setdefault(str(key), {})
            if not isinstance(change, dict):
                raise AgentStreamError("agent stream: unreadable delta")
            apply_delta(leaves, change)
        records = {key: unflatten(leaves) for key, leaves in self._leaves.items()}
        notices = tuple(str(n) for n in message.get("n") or [])
        return AgentFrame(taken_at, records, notices)


def hello(schema: str, version: str, host: str) -> bytes:
    """The first line of the stream."""
    document = {"agent": AGENT_PROTOCOL, "schema": schema, "version": version, "host": host}
    return json.dumps(document).encode() + b"\n"


def check_hello(line: bytes, schema: str) -> Mapping[str, Any]:
    """The hello, or AgentStreamError saying what is not this gtui's."""
    try:
        document = json.loads(line)
    except ValueError as error:
        text = line.decode("utf-8", "replace").strip()[:120]
        raise AgentStreamError(f"not a gtui agent (it said {text!r})") from error
    if not isinstance(document, dict) or "agent" not in document:
        raise AgentStreamError("not a gtui agent")
    version = document.get("version", "?")
    if document.get("agent") != AGENT_PROTOCOL or document.get("schema") != schema:
        raise AgentStreamError(
            f"remote gtui {version} speaks {document.get('agent')} with "
            f"{document.get('schema')}; this gtui reads {AGENT_PROTOCOL} with {schema}"
        )
    return document
