"""Compile a Gunicorn ``access_log_format`` into a fast line parser.

Gunicorn renders each access line as ``access_log_format % SafeAtoms(atoms)``
(``gunicorn/glogging.py``, the same in 20.x and 27.x):

* every *string* atom has ``"`` replaced by ``\\"`` and nothing else escaped
  (backslashes are not doubled, so a value ending in ``\\`` is ambiguous);
* an atom missing from the dict renders as ``-``; ``{name}i``, ``{name}o`` and
  ``{name}e`` keys are looked up lower-cased;
* ``t`` is ``[%d/%b/%Y:%H:%M:%S %z]`` (brackets included), ``p`` is ``<pid>``,
  ``b`` is the byte count or ``-``, ``B`` the byte count or ``None``;
* durations: ``T`` whole seconds (truncated), ``M`` whole milliseconds
  (truncated), ``L`` seconds with six decimals, ``D`` microseconds.

Strategy: one compiled regex per format, built from the atoms, with
possessive quantifiers so a line that does not match fails in linear time.
That strict regex handles every line Gunicorn writes except two rare shapes:
a quoted value that ends in a backslash, and free text with spaces where the
format leaves it unquoted. Lines the strict regex rejects get a second,
backtracking regex, but only when they are short and have few quotes, so
garbage can never make the parser slow. Lines longer than ``max_line_chars``
are counted as oversized without being matched.

Records are lazy: an :class:`AccessRecord` keeps the matched groups and a
layout that says which group holds what; fields are converted when read.
Building a 17-field frozen dataclass per line would cost more than the regex
itself (measured: ~3 µs against ~1.5 µs), and most consumers read only
status, duration, pid, method and path.
"""

from __future__ import annotations

import calendar
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

DEFAULT_ACCESS_LOG_FORMAT: Final = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'

#: Default for :class:`AccessLogParser`'s ``max_line_chars``. Gunicorn caps a
#: request line at 4094 bytes and a header at 8190, so real lines stay far
#: below this even with several header atoms.
DEFAULT_MAX_LINE_CHARS: Final = 65536

# The backtracking fallback is only tried on lines this short and with this
# few escaped quotes: each escaped quote is a place where a quoted value could
# end, and the work grows with (places ** quoted atoms).
_LENIENT_MAX_CHARS: Final = 4096
_LENIENT_MAX_ESCAPED_QUOTES: Final = 16

_MONTHS: Final = {
    name: index
    for index, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}

# Python's printf-style conversion with a mapping key, as logging applies it.
_CONVERSION_RE: Final = re.compile(
    r"%(?:(?P<percent>%)|\((?P<name>[^)]*)\)(?P<spec>[#0 +\-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?)"
    r"(?P<conv>[a-zA-Z%]))"
)
_HEADER_ATOM_RE: Final = re.compile(r"\{(?P<name>[^}]*)\}(?P<kind>[ioe])")


class AccessLogFormatError(ValueError):
    """The format string is not one Gunicorn could render, or uses a
    conversion this parser does not support (say which and where)."""


@dataclass(frozen=True, slots=True)
class AccessLogLayout:
    """Which regex group holds which field, for one compiled format.

    Indexes are regex group numbers (from 1); a field's is -1 when the format
    does not provide it. Consumers use the ``has_*`` properties to tell what a
    format can give (for guidance such as "add %(p)s to get per-worker
    figures").
    """

    remote_addr: int = -1
    user: int = -1
    time: int = -1
    method: int = -1
    uri: int = -1
    protocol: int = -1
    request_line: int = -1
    path: int = -1
    query: int = -1
    status: int = -1
    bytes_or_dash: int = -1
    bytes_or_none: int = -1
    referer: int = -1
    user_agent: int = -1
    duration: int = -1
    duration_unit_us: int = 0
    worker_pid: int = -1
    request_headers: tuple[tuple[str, int], ...] = ()
    response_headers: tuple[tuple[str, int], ...] = ()
    environ: tuple[tuple[str, int], ...] = ()

    @property
    def has_worker_pid(self) -> bool:
        """The format has ``%(p)s``: per-worker figures are possible."""
        return self.worker_pid >= 0

    @property
    def has_duration(self) -> bool:
        """The format has a duration atom (D, L, M or T)."""
        return self.duration >= 0

    @property
    def has_time(self) -> bool:
        """The format has ``%(t)s``: the log's own timestamp."""
        return self.time >= 0

    @property
    def has_status(self) -> bool:
        """The format has ``%(s)s``."""
        return self.status >= 0

    @property
    def has_endpoint(self) -> bool:
        """True when method and path can both be read."""
        has_method = self.method >= 0 or self.request_line >= 0
        has_path = self.uri >= 0 or self.path >= 0 or self.request_line >= 0
        return has_method and has_path


def _unescape(value: str) -> str:
    # Gunicorn's only escaping is '"' -> '\\"'; undoing it with one replace is
    # exact because every '\\"' in the output came from a quote.
    return value.replace('\\"', '"') if "\\" in value else value


def _dash_none(value: str) -> str | None:
    return None if value == "-" else _unescape(value)


def _split_uri(uri: str) -> tuple[str, str | None]:
    """Path and query of a request URI (absolute-form URIs lose their host)."""
    if uri and uri[0] != "/" and "://" in uri:
        rest = uri.split("://", 1)[1]
        slash = rest.find("/")
        uri = rest[slash:] if slash >= 0 else "/"
    path, sep, query = uri.partition("?")
    return path, (query if sep else None)


@lru_cache(maxsize=256)
def parse_clf_time(value: str) -> float | None:
    """Epoch seconds of a Common Log Format time such as
    ``27/Nov/2026:23:09:04 +0000`` (brackets optional), or None if it is not
    one (a non-English locale's month names, say). Cached: a busy log repeats
    the same second thousands of times."""
    text = value[1:-1] if value[:1] == "[" and value[-1:] == "]" else value
    if len(text) != 26 or text[2] != "/" or text[6] != "/" or text[11] != ":":
        return None
    month = _MONTHS.get(text[3:6])
    offset = text[21:]
    if month is None or offset[0] not in "+-" or not offset[1:].isdigit():
        return None
    try:
        day, year = int(text[0:2]), int(text[7:11])
        hour, minute, second = int(text[12:14]), int(text[15:17]), int(text[18:20])
        offset_s = (int(offset[1:3]) * 60 + int(offset[3:5])) * 60
        if not (1 <= day <= 31 and hour < 24 and minute < 60 and second <= 60):
            return None
        epoch = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    except (ValueError, OverflowError):
        return None
    return float(epoch - offset_s if offset[0] == "+" else epoch + offset_s)


@dataclass(frozen=True, slots=True, eq=False)
class AccessRecord:
    """One parsed access-log line.

    Holds the regex match; each property converts on read (substrings are not
    even cut until read: ``match.groups()`` alone costs more than half the
    regex). A property is None when the format does not carry that field or
    Gunicorn wrote ``-``. Compared by identity: two requests can log the same
    line.
    """

    match: re.Match[str]
    layout: AccessLogLayout

    @property
    def line(self) -> str:
        """The text that was parsed."""
        return self.match.string

    def _text(self, index: int) -> str | None:
        return None if index < 0 else _dash_none(self.match[index])

    @property
    def remote_addr(self) -> str | None:
        """``%(h)s``: the client address (a proxy's, behind one)."""
        return self._text(self.layout.remote_addr)

    @property
    def user(self) -> str | None:
        """``%(u)s``: the Basic-auth user, if any."""
        return self._text(self.layout.user)

    @property
    def logged_at(self) -> float | None:
        """Epoch seconds from ``%(t)s`` (whole seconds, the server's clock)."""
        index = self.layout.time
        return None if index < 0 else parse_clf_time(self.match[index])

    @property
    def method(self) -> str | None:
        """The request method, from ``%(m)s`` or ``%(r)s``."""
        layout = self.layout
        if layout.method >= 0:
            return _dash_none(self.match[layout.method])
        if layout.request_line >= 0:
            parts = self.match[layout.request_line].split(" ")
            return parts[0] if len(parts) >= 2 and parts[0] else None
        return None

    @property
    def uri(self) -> str | None:
        """The raw request URI (``RAW_URI``): path and query as sent."""
        layout = self.layout
        if layout.uri >= 0:
            return _unescape(self.match[layout.uri])
        if layout.request_line >= 0:
            parts = self.match[layout.request_line].split(" ")
            if len(parts) >= 3:
                return _unescape(" ".join(parts[1:-1]))
            return _unescape(parts[1]) if len(parts) == 2 else None
        return None

    @property
    def path(self) -> str | None:
        """``PATH_INFO`` when the format has ``%(U)s``, else the raw path."""
        layout = self.layout
        if layout.path >= 0:
            return _unescape(self.match[layout.path])
        uri = self.uri
        return None if uri is None else _split_uri(uri)[0]

    @property
    def query(self) -> str | None:
        """The query string (without ``?``); None when the URI had none."""
        layout = self.layout
        if layout.query >= 0:
            return _unescape(self.match[layout.query])
        uri = self.uri
        return None if uri is None else _split_uri(uri)[1]

    @property
    def protocol(self) -> str | None:
        """``HTTP/1.1`` and the like, from ``%(H)s`` or ``%(r)s``."""
        layout = self.layout
        if layout.protocol >= 0:
            return _dash_none(self.match[layout.protocol])
        if layout.request_line >= 0:
            parts = self.match[layout.request_line].split(" ")
            return parts[-1] if len(parts) >= 3 else None
        return None

    @property
    def status(self) -> int | None:
        """``%(s)s``: the response status code."""
        index = self.layout.status
        return None if index < 0 else int(self.match[index])

    @property
    def response_bytes(self) -> int | None:
        """Body bytes sent, from ``%(b)s`` or ``%(B)s``."""
        layout = self.layout
        index = layout.bytes_or_dash if layout.bytes_or_dash >= 0 else layout.bytes_or_none
        if index < 0:
            return None
        value = self.match[index]
        return int(value) if value.isdigit() else None

    @property
    def referer(self) -> str | None:
        """``%(f)s``: the Referer header."""
        return self._text(self.layout.referer)

    @property
    def user_agent(self) -> str | None:
        """``%(a)s``: the User-Agent header."""
        return self._text(self.layout.user_agent)

    @property
    def duration_us(self) -> int | None:
        """Request duration in microseconds, from the finest duration atom the
        format has (see :attr:`duration_resolution_us`)."""
        layout = self.layout
        index = layout.duration
        if index < 0:
            return None
        value = self.match[index]
        if layout.duration_unit_us == 0:  # %(L)s: "seconds.micros"
            seconds, _, micros = value.partition(".")
            return int(seconds) * 1_000_000 + int(micros[:6].ljust(6, "0"))
        return int(value) * layout.duration_unit_us

    @property
    def duration_resolution_us(self) -> int | None:
        """Granularity of :attr:`duration_us`: 1 for D and L, 1000 for M,
        1_000_000 for T. Gunicorn truncates, so the true value lies in
        ``[duration_us, duration_us + resolution)``."""
        layout = self.layout
        if layout.duration < 0:
            return None
        return layout.duration_unit_us or 1

    @property
    def worker_pid(self) -> int | None:
        """The worker's pid from ``%(p)s``, in the server's pid namespace."""
        index = self.layout.worker_pid
        return None if index < 0 else int(self.match[index])

    @property
    def request_headers(self) -> Mapping[str, str]:
        """Request headers named in the format (lower-case), minus those
        Gunicorn wrote as ``-``."""
        return self._named(self.layout.request_headers)

    @property
    def response_headers(self) -> Mapping[str, str]:
        """Response headers named in the format (``{name}o``)."""
        return self._named(self.layout.response_headers)

    @property
    def environ(self) -> Mapping[str, str]:
        """WSGI environ values named in the format (``{name}e``)."""
        return self._named(self.layout.environ)

    def _named(self, indexes: tuple[tuple[str, int], ...]) -> Mapping[str, str]:
        values: dict[str, str] = {}
        for name, index in indexes:
            value = self.match[index]
            if value != "-":
                values[name] = _unescape(value)
        return values

    def as_dict(self) -> dict[str, object]:
        """All fields as plain values (for JSON and for tests)."""
        return {
            "remote_addr": self.remote_addr,
            "user": self.user,
            "logged_at": self.logged_at,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "protocol": self.protocol,
            "status": self.status,
            "response_bytes": self.response_bytes,
            "referer": self.referer,
            "user_agent": self.user_agent,
            "duration_us": self.duration_us,
            "duration_resolution_us": self.duration_resolution_us,
            "worker_pid": self.worker_pid,
            "request_headers": dict(self.request_headers),
            "response_headers": dict(self.response_headers),
            "environ": dict(self.environ),
        }

    def __repr__(self) -> str:
        fields = ", ".join(f"{key}={value!r}" for key, value in self.as_dict().items())
        return f"AccessRecord({fields})"


_object_new = object.__new__
_set_match = AccessRecord.__dict__["match"].__set__
_set_layout = AccessRecord.__dict__["layout"].__set__


def _new_record(match: re.Match[str], layout: AccessLogLayout) -> AccessRecord:
    # A frozen dataclass's __init__ goes through object.__setattr__ per field
    # (~800 ns here); writing the slots directly is the same result in ~300 ns
    # and this runs once per log line.
    record: AccessRecord = _object_new(AccessRecord)
    _set_match(record, match)
    _set_layout(record, layout)
    return record


@dataclass(frozen=True)
class ParseCounts:
    """What a parser has seen so far. ``failed`` + ``oversized`` lines were
    skipped; ``lenient`` lines parsed only through the slow fallback."""

    parsed: int
    failed: int
    oversized: int
    lenient: int

    @property
    def skipped(self) -> int:
        """Lines that gave no record."""
        return self.failed + self.oversized

    @property
    def seen(self) -> int:
        """All lines given to the parser."""
        return self.parsed + self.skipped


# --- compiling ---------------------------------------------------------------

# Atom classes: how a value may look once rendered.
_DASH = "dash"  # always '-' (``l`` and unknown names)
_NOSPACE = "nospace"  # no whitespace, may contain \"
_FREE = "free"  # anything, spaces and \" included
_INT = "int"
_INT_OR_DASH = "int_or_dash"
_INT_OR_NONE = "int_or_none"
_DECIMAL = "decimal"
_TIME = "time"
_PID = "pid"
_REQUEST = "request"

_ATOM_CLASSES: Final = {
    "h": _NOSPACE,
    "l": _DASH,
    "u": _FREE,
    "t": _TIME,
    "r": _REQUEST,
    "s": _INT,
    "m": _NOSPACE,
    "U": _FREE,
    "q": _NOSPACE,
    "H": _NOSPACE,
    "b": _INT_OR_DASH,
    "B": _INT_OR_NONE,
    "f": _FREE,
    "a": _FREE,
    "T": _INT,
    "D": _INT,
    "M": _INT,
    "L": _DECIMAL,
    "p": _PID,
}

# Finest first: the record reports the best duration the format offers.
_DURATION_ATOMS: Final = (("D", 1), ("L", 0), ("M", 1000), ("T", 1_000_000))


@dataclass(frozen=True)
class _Piece:
    literal: str | None = None
    atom: str | None = None


def _split_format(access_log_format: str) -> list[_Piece]:
    pieces: list[_Piece] = []
    position = 0
    for match in _CONVERSION_RE.finditer(access_log_format):
        if match.start() != position:
            pieces.append(_Piece(literal=access_log_format[position : match.start()]))
        position = match.end()
        if match.group("percent"):
            pieces.append(_Piece(literal="%"))
            continue
        name, spec, conv = match.group("name"), match.group("spec"), match.group("conv")
        where = f"at offset {match.start()} ({match.group(0)!r})"
        if spec:
            raise AccessLogFormatError(f"width and flags are not supported {where}")
        atom_class = _ATOM_CLASSES.get(name)
        if conv in "di":
            if atom_class not in (_INT,) and name != "B":
                raise AccessLogFormatError(f"%d needs a numeric atom {where}")
        elif conv != "s":
            raise AccessLogFormatError(f"only %s and %d conversions are supported {where}")
        pieces.append(_Piece(atom=name))
    tail = access_log_format[position:]
    if "%" in tail:
        offset = position + tail.index("%")
        raise AccessLogFormatError(
            f"stray '%' at offset {offset}: write '%%' for a literal percent sign"
        )
    if tail:
        pieces.append(_Piece(literal=tail))
    # Adjacent literals (from %%) are merged so quote context is seen.
    merged: list[_Piece] = []
    for piece in pieces:
        if piece.literal is not None and merged and merged[-1].literal is not None:
            merged[-1] = _Piece(literal=(merged[-1].literal or "") + piece.literal)
        else:
            merged.append(piece)
    return merged


def _atom_class(name: str) -> tuple[str, str | None, str | None]:
    """(class, header kind i/o/e or None, header name or None)."""
    if name.startswith("{"):
        header = _HEADER_ATOM_RE.fullmatch(name)
        if header is None:
            return _DASH, None, None
        return _FREE, header.group("kind"), header.group("name").lower()
    return _ATOM_CLASSES.get(name, _DASH), None, None


def _atom_pattern(atom_class: str, quoted: bool, after: str | None, strict: bool) -> str:
    """Regex for one atom; it opens exactly the groups the layout counts
    (three for a strict request line, one for every other non-dash atom).
    ``after`` is the literal that follows the atom, if any."""
    last = after is None
    plus = "+" if strict else ""
    if atom_class == _DASH:
        return "-"
    if atom_class == _INT:
        return rf"(\d+{plus})"
    if atom_class == _INT_OR_DASH:
        return rf"(\d+{plus}|-)"
    if atom_class == _INT_OR_NONE:
        return rf"(\d+{plus}|None|-)"
    if atom_class == _DECIMAL:
        return rf"(\d+{plus}\.\d+{plus})"
    if atom_class == _PID:
        return rf"<(\d+{plus})>"
    if atom_class == _TIME:
        return rf"\[([^\]]+{plus})\]" if strict else r"\[(.*?)\]"
    if atom_class == _REQUEST and strict:
        # RAW_URI never holds a space; method and protocol never hold quotes.
        return r'([^\s"]++) (\S++) ([^\s"]++)'
    if not strict:
        # Backtracking here; NOSPACE values (address, method, query,
        # protocol) never hold whitespace, which keeps a shorter format
        # from reading a longer one's lines.
        if atom_class == _NOSPACE:
            return r"(\S*)"
        return "(.*)" if last else "(.*?)"
    if atom_class == _NOSPACE:
        stop = after[0] if after else " "
        if quoted or stop == '"':
            return r'([^\s"\\]*+(?:\\.[^\s"\\]*+)*+)'
        if stop.isspace():
            return r"(\S*+)"
        # Possessive, so the value must not hold the next literal's first
        # character; a value that does goes to the lenient regex.
        return rf"([^\s{re.escape(stop)}]*+)"
    # Free text.
    if quoted:
        return r'([^"\\]*+(?:\\.[^"\\]*+)*+)'
    return "(.*)" if last else "(.*?)"


def _build(pieces: list[_Piece], strict: bool) -> tuple[re.Pattern[str], AccessLogLayout]:
    parts: list[str] = []
    slots: dict[str, int] = {}
    headers: dict[str, list[tuple[str, int]]] = {"i": [], "o": [], "e": []}
    group = 1  # re.Match numbers groups from 1
    for position, piece in enumerate(pieces):
        if piece.literal is not None:
            parts.append(re.escape(piece.literal))
            continue
        name = piece.atom or ""
        atom_class, header_kind, header_name = _atom_class(name)
        before = pieces[position - 1].literal if position > 0 else None
        after = pieces[position + 1].literal if position + 1 < len(pieces) else None
        quoted = bool(before and before.endswith('"') and after and after.startswith('"'))
        parts.append(_atom_pattern(atom_class, quoted, after, strict))
        if atom_class == _DASH:
            continue
        if atom_class == _REQUEST and strict:
            for part in ("method", "uri", "protocol"):
                slots.setdefault(part, group)
                group += 1
            continue
        if header_kind is not None and header_name is not None:
            headers[header_kind].append((header_name, group))
        else:
            slots.setdefault(name, group)
        group += 1

    def slot(name: str) -> int:
        """The group of atom ``name``, or -1."""
        return slots.get(name, -1)

    duration, unit = -1, 0
    for atom, atom_unit in _DURATION_ATOMS:
        if atom in slots:
            duration, unit = slots[atom], atom_unit
            break
    layout = AccessLogLayout(
        remote_addr=slot("h"),
        user=slot("u"),
        time=slot("t"),
        method=slot("m") if "m" in slots else slot("method"),
        uri=slot("uri"),
        protocol=slot("H") if "H" in slots else slot("protocol"),
        request_line=slot("r"),
        path=slot("U"),
        query=slot("q"),
        status=slot("s"),
        bytes_or_dash=slot("b"),
        bytes_or_none=slot("B"),
        referer=slot("f"),
        user_agent=slot("a"),
        duration=duration,
        duration_unit_us=unit,
        worker_pid=slot("p"),
        request_headers=tuple(headers["i"]),
        response_headers=tuple(headers["o"]),
        environ=tuple(headers["e"]),
    )
    return re.compile("".join(parts) + r"\r?$", re.ASCII), layout


class AccessLogParser:
    """A parser for one ``access_log_format``.

    ``parse`` never raises on any input: a line it cannot read is counted
    (see :meth:`counts`) and a few samples are kept in ``recent_failures``.
    Not thread-safe: give each log stream its own parser.
    """

    def __init__(
        self,
        access_log_format: str = DEFAULT_ACCESS_LOG_FORMAT,
        *,
        max_line_chars: int = DEFAULT_MAX_LINE_CHARS,
        failure_samples: int = 8,
    ) -> None:
        """Compile ``access_log_format``; raise :class:`AccessLogFormatError`
        when it is not a format Gunicorn could render."""
        pieces = _split_format(access_log_format)
        self.access_log_format: Final = access_log_format
        self.max_line_chars: Final = max_line_chars
        strict_regex, self.layout = _build(pieces, strict=True)
        lenient_regex, self._lenient_layout = _build(pieces, strict=False)
        self._strict_match = strict_regex.match
        self._lenient_match = lenient_regex.match
        self.parsed = 0
        self.failed = 0
        self.oversized = 0
        self.lenient = 0
        self.recent_failures: deque[str] = deque(maxlen=failure_samples)

    def parse(self, line: str) -> AccessRecord | None:
        """The record for ``line`` (trailing newline allowed), or None."""
        if len(line) <= self.max_line_chars:
            match = self._strict_match(line)
            if match is not None:
                self.parsed += 1
                return _new_record(match, self.layout)
        return self._parse_slow(line)

    def _parse_slow(self, line: str) -> AccessRecord | None:
        if len(line) > self.max_line_chars:
            self.oversized += 1
            self.recent_failures.append(line[:200])
            return None
        if len(line) <= _LENIENT_MAX_CHARS and line.count('\\"') <= _LENIENT_MAX_ESCAPED_QUOTES:
            match = self._lenient_match(line)
            if match is not None:
                self.parsed += 1
                self.lenient += 1
                return _new_record(match, self._lenient_layout)
        self.failed += 1
        self.recent_failures.append(line[:200])
        return None

    def matches_strictly(self, line: str) -> bool:
        """True if the fast regex reads ``line`` (not counted). Gunicorn's
        own lines in this format nearly always do; a line read only by the
        lenient fallback fits this format less well (format detection
        prefers a candidate that reads more lines strictly)."""
        return len(line) <= self.max_line_chars and self._strict_match(line) is not None

    def matches(self, line: str) -> bool:
        """True if ``line`` parses, without counting it."""
        if len(line) > self.max_line_chars:
            return False
        if self._strict_match(line) is not None:
            return True
        return (
            len(line) <= _LENIENT_MAX_CHARS
            and line.count('\\"') <= _LENIENT_MAX_ESCAPED_QUOTES
            and self._lenient_match(line) is not None
        )

    def counts(self) -> ParseCounts:
        """A snapshot of the counters."""
        return ParseCounts(self.parsed, self.failed, self.oversized, self.lenient)


@dataclass(frozen=True)
class FormatCapabilities:
    """What figures a format can give, for guidance in the UI."""

    worker_pid: bool
    duration: bool
    duration_resolution_us: int | None
    status: bool
    endpoint: bool
    logged_at: bool
    missing: tuple[str, ...] = field(default=())


def format_capabilities(access_log_format: str) -> FormatCapabilities:
    """Which traffic figures ``access_log_format`` supports, and the atoms to
    add for the rest (e.g. ``%(p)s`` for per-worker counts)."""
    layout = AccessLogParser(access_log_format).layout
    missing: list[str] = []
    if not layout.has_worker_pid:
        missing.append("%(p)s")
    if not layout.has_duration or layout.duration_unit_us >= 1000:
        missing.append("%(D)s")
    if not layout.has_status:
        missing.append("%(s)s")
    if not layout.has_endpoint:
        missing.append('"%(r)s"')
    return FormatCapabilities(
        worker_pid=layout.has_worker_pid,
        duration=layout.has_duration,
        duration_resolution_us=(layout.duration_unit_us or 1) if layout.has_duration else None,
        status=layout.has_status,
        endpoint=layout.has_endpoint,
        logged_at=layout.has_time,
        missing=tuple(missing),
    )
