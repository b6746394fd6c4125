"""The command line's text face: what gtui prints shows outside text escaped.

Commands print container names, process titles, paths, log lines and error
strings from the servers they watch. While a command runs, its stdout and
stderr escape every control character but the line break
(:func:`~gunicorn_tui.output.escape.escape_controls`), so no line printed
can carry a terminal sequence, whichever print forgot to. Tables escape
their cells themselves first, so their columns line up.

JSON passes through unchanged: it is written with ``ensure_ascii`` (the
default), which leaves nothing but printable ASCII and line breaks.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from gunicorn_tui.output.escape import escape_controls


class EscapingStream:
    """A text stream that writes through to ``stream`` with controls escaped."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(escape_controls(text, keep_newlines=True))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        # flush, isatty, fileno, encoding...: the real stream's.
        return getattr(self._stream, name)


@contextmanager
def escaped_output() -> Iterator[None]:
    """Escape what is printed to stdout and stderr until the block ends."""
    saved = sys.stdout, sys.stderr
    sys.stdout = EscapingStream(saved[0])
    sys.stderr = EscapingStream(saved[1])
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
