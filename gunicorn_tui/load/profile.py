"""Load profiles: a weighted mix of requests and the shape of a run, in TOML.

A profile (``profiles/mixed.toml`` is a complete example)::

    [run]
    mode = "open"            # "open": a fixed arrival rate; "closed": N clients
    rate_rps = 200           # open loop: requests per second once ramped up
    # concurrency = 8        # closed loop: clients sending back to back
    ramp_up_s = 2            # linear ramp from zero
    duration_s = 30          # duration_s and/or max_requests: always bounded
    max_requests = 5000
    timeout_s = 5            # per request, from send to the last body byte
    connections = 64         # connection limit (open loop: also max in flight)
    base_url = "http://127.0.0.1:8000"   # optional: else the instance's bind
    verify_tls = true        # false accepts self-signed certificates
    seed = 1                 # optional: the same mix and {n} values every run

    [[request]]
    method = "GET"
    path = "/items/{n}"      # {n}: a random integer from n_range
    n_range = [1, 1000]
    weight = 3
    headers = { Accept = "application/json" }
    body = ""

Every field is checked; a mistake is reported with the field's name
(``run.rate_rps``, ``request[2].path``) and all mistakes are reported at once.
Unknown keys are refused, so a misspelt ``duraton_s`` cannot silently leave a
run unbounded. Values past the ``MAX_*`` limits below are refused rather than
clipped: a typo of one zero too many should not turn into a silent change.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path

from gunicorn_tui.load.target import TargetError, validate_base_url

MAX_DURATION_S = 3600.0
MAX_REQUESTS = 10_000_000
MAX_RATE_RPS = 50_000.0
MAX_CONCURRENCY = 2_000
MAX_CONNECTIONS = 2_000
MAX_TIMEOUT_S = 300.0
MAX_REQUEST_KINDS = 100
MAX_BODY_BYTES = 1024 * 1024
# Servers refuse longer request lines anyway (Gunicorn at 4094 bytes).
MAX_PATH_CHARS = 8192
MAX_WEIGHT = 1_000_000.0

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_OPEN_LOOP_CONNECTIONS = 64
DEFAULT_N_RANGE = (1, 1000)
# After the send window closes, requests still in flight may finish for this
# long (at most timeout_s); longer would let a slow server stretch the run.
DEFAULT_DRAIN_S = 2.0

PLACEHOLDER = "{n}"
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
BUILTIN_PROFILES_PACKAGE = "gunicorn_tui.load.profiles"

_RUN_KEYS = (
    "mode",
    "rate_rps",
    "concurrency",
    "ramp_up_s",
    "duration_s",
    "max_requests",
    "timeout_s",
    "connections",
    "base_url",
    "verify_tls",
    "seed",
    "drain_s",
)
_REQUEST_KEYS = ("name", "method", "path", "weight", "headers", "body", "n_range")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_BRACES = re.compile(r"\{[^}]*\}?")


class RunMode(StrEnum):
    """How requests are paced."""

    OPEN = "open"
    CLOSED = "closed"


class ProfileError(ValueError):
    """A profile that cannot be used; ``problems`` names each bad field."""

    def __init__(self, source: str, problems: list[str] | tuple[str, ...]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__(f"{source}: {'; '.join(self.problems)}")


@dataclass(frozen=True)
class RequestSpec:
    """One kind of request in the mix."""

    name: str
    method: str
    path: str
    weight: float
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    n_min: int
    n_max: int

    @property
    def has_placeholder(self) -> bool:
        """Whether the path carries ``{n}`` and so differs between requests."""
        return PLACEHOLDER in self.path


@dataclass(frozen=True)
class LoadProfile:
    """A validated profile: what to send and how a run is shaped.

    ``rate_rps`` is set in open mode only, ``concurrency`` in closed mode only.
    At least one of ``duration_s`` and ``max_requests`` is set.
    """

    source: str
    mode: RunMode
    requests: tuple[RequestSpec, ...]
    rate_rps: float | None
    concurrency: int | None
    ramp_up_s: float
    duration_s: float | None
    max_requests: int | None
    timeout_s: float
    connections: int
    base_url: str | None
    verify_tls: bool
    seed: int | None
    drain_s: float

    @property
    def time_bound_s(self) -> float:
        """How long sending may last: the duration, else the hard cap, so a
        count-bounded run against a stalled server still ends."""
        return self.duration_s if self.duration_s is not None else MAX_DURATION_S


class _FieldReader:
    """Reads typed fields out of one TOML table, collecting problems."""

    def __init__(self, table: Mapping[str, object], prefix: str, problems: list[str]) -> None:
        self.table = table
        self.prefix = prefix
        self.problems = problems

    def name(self, key: str) -> str:
        return f"{self.prefix}.{key}"

    def present(self, key: str) -> bool:
        return key in self.table

    def fail(self, key: str, message: str) -> None:
        self.problems.append(f"{self.name(key)}: {message}")

    def number(
        self,
        key: str,
        *,
        minimum: float,
        maximum: float,
        min_inclusive: bool = True,
        integer: bool = False,
        unit: str = "",
    ) -> float | None:
        """The value at ``key`` within [minimum, maximum], or None (absent or bad)."""
        if key not in self.table:
            return None
        value = self.table[key]
        kind = "an integer" if integer else "a number"
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(key, f"expected {kind}, got {_describe(value)}")
            return None
        if integer and not isinstance(value, int):
            if not float(value).is_integer():
                self.fail(key, f"expected {kind}, got {value!r}")
                return None
            value = int(value)
        if not math.isfinite(value):
            self.fail(key, f"expected a finite number, got {value!r}")
            return None
        low_ok = value >= minimum if min_inclusive else value > minimum
        if not low_ok or value > maximum:
            low = f">= {_fmt(minimum)}" if min_inclusive else f"> {_fmt(minimum)}"
            self.fail(key, f"must be {low} and <= {_fmt(maximum)}{unit}, got {value!r}")
            return None
        return value

    def string(self, key: str) -> str | None:
        if key not in self.table:
            return None
        value = self.table[key]
        if not isinstance(value, str):
            self.fail(key, f"expected a string, got {_describe(value)}")
            return None
        return value

    def boolean(self, key: str) -> bool | None:
        if key not in self.table:
            return None
        value = self.table[key]
        if not isinstance(value, bool):
            self.fail(key, f"expected true or false, got {_describe(value)}")
            return None
        return value

    def refuse_unknown(self, known: tuple[str, ...]) -> None:
        for key in self.table:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(known)}"
                self.problems.append(f"{self.name(key)}: unknown field ({hint})")


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"{type(value).__name__} {value!r}"


def _fmt(value: float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def parse_profile(data: Mapping[str, object], *, source: str = "<profile>") -> LoadProfile:
    """Validate parsed TOML ``data`` into a :class:`LoadProfile`.

    Raises :class:`ProfileError` listing every problem, each naming its field.
    """
    problems: list[str] = []
    for key in data:
        if key not in ("run", "request"):
            problems.append(f"{key}: unknown section (known: [run], [[request]])")
    run_table = data.get("run")
    if not isinstance(run_table, dict):
        problems.append(
            "run: missing [run] section" if run_table is None else "run: must be a [run] table"
        )
        run_table = {}
    run = _FieldReader(run_table, "run", problems)
    run.refuse_unknown(_RUN_KEYS)

    mode_text = run.string("mode")
    mode: RunMode | None = None
    if mode_text is None and not run.present("mode"):
        mode = RunMode.CLOSED if run.present("concurrency") else RunMode.OPEN
    elif mode_text is not None:
        try:
            mode = RunMode(mode_text)
        except ValueError:
            run.fail("mode", f'expected "open" or "closed", got {mode_text!r}')

    rate = run.number("rate_rps", minimum=0, min_inclusive=False, maximum=MAX_RATE_RPS)
    concurrency = run.number("concurrency", minimum=1, maximum=MAX_CONCURRENCY, integer=True)
    if mode is RunMode.OPEN:
        if run.present("concurrency"):
            run.fail("concurrency", 'only for mode = "closed"; an open loop uses rate_rps')
        if not run.present("rate_rps"):
            run.fail("rate_rps", 'required for mode = "open" (requests per second)')
    elif mode is RunMode.CLOSED:
        if run.present("rate_rps"):
            run.fail("rate_rps", 'only for mode = "open"; a closed loop uses concurrency')
        if not run.present("concurrency"):
            run.fail("concurrency", 'required for mode = "closed" (number of clients)')

    duration = run.number("duration_s", minimum=0, min_inclusive=False, maximum=MAX_DURATION_S)
    max_requests = run.number("max_requests", minimum=1, maximum=MAX_REQUESTS, integer=True)
    if not run.present("duration_s") and not run.present("max_requests"):
        problems.append("run.duration_s / run.max_requests: a run must be bounded; set one or both")
    ramp = run.number("ramp_up_s", minimum=0, maximum=MAX_DURATION_S)
    if ramp is not None and duration is not None and ramp > duration:
        run.fail("ramp_up_s", f"longer than run.duration_s ({_fmt(duration)}), got {ramp!r}")
    timeout = run.number("timeout_s", minimum=0, min_inclusive=False, maximum=MAX_TIMEOUT_S)
    timeout_s = float(timeout) if timeout is not None else DEFAULT_TIMEOUT_S
    connections = run.number("connections", minimum=1, maximum=MAX_CONNECTIONS, integer=True)
    drain = run.number("drain_s", minimum=0, maximum=MAX_TIMEOUT_S)
    if drain is not None and drain > timeout_s:
        run.fail("drain_s", f"longer than run.timeout_s ({_fmt(timeout_s)}), got {drain!r}")
    seed = run.number("seed", minimum=0, maximum=2**63 - 1, integer=True)
    verify_tls = run.boolean("verify_tls")

    base_url = run.string("base_url")
    if base_url is not None:
        try:
            base_url = validate_base_url(base_url, field="run.base_url")
        except TargetError as exc:
            problems.append(str(exc))
            base_url = None

    requests = _parse_requests(data.get("request"), problems)

    if problems:
        raise ProfileError(source, problems)
    assert mode is not None  # no problems means the mode parsed
    if connections is None:
        connections = (
            concurrency
            if mode is RunMode.CLOSED and concurrency is not None
            else DEFAULT_OPEN_LOOP_CONNECTIONS
        )
    return LoadProfile(
        source=source,
        mode=mode,
        requests=requests,
        rate_rps=float(rate) if rate is not None else None,
        concurrency=int(concurrency) if concurrency is not None else None,
        ramp_up_s=float(ramp) if ramp is not None else 0.0,
        duration_s=float(duration) if duration is not None else None,
        max_requests=int(max_requests) if max_requests is not None else None,
        timeout_s=timeout_s,
        connections=int(connections),
        base_url=base_url,
        verify_tls=verify_tls if verify_tls is not None else True,
        seed=int(seed) if seed is not None else None,
        drain_s=float(drain) if drain is not None else min(timeout_s, DEFAULT_DRAIN_S),
    )


def _parse_requests(value: object, problems: list[str]) -> tuple[RequestSpec, ...]:
    if value is None:
        problems.append("request: no [[request]] entries; add at least one")
        return ()
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        problems.append("request: must be an array of tables ([[request]])")
        return ()
    if not value:
        problems.append("request: no [[request]] entries; add at least one")
        return ()
    if len(value) > MAX_REQUEST_KINDS:
        problems.append(f"request: at most {MAX_REQUEST_KINDS} entries, got {len(value)}")
        return ()
    specs = []
    for index, table in enumerate(value):
        spec = _parse_request(table, f"request[{index}]", problems)
        if spec is not None:
            specs.append(spec)
    return tuple(specs)


def _parse_request(
    table: Mapping[str, object], prefix: str, problems: list[str]
) -> RequestSpec | None:
    count_before = len(problems)
    fields = _FieldReader(table, prefix, problems)
    fields.refuse_unknown(_REQUEST_KEYS)

    method = (fields.string("method") or "GET").upper()
    if method not in METHODS:
        fields.fail("method", f"expected one of {', '.join(METHODS)}, got {method!r}")

    path = fields.string("path")
    if path is None and not fields.present("path"):
        fields.fail("path", 'required, e.g. path = "/fast"')
    elif path is not None:
        _check_path(path, fields)

    weight = fields.number("weight", minimum=0, min_inclusive=False, maximum=MAX_WEIGHT)

    headers: list[tuple[str, str]] = []
    raw_headers = table.get("headers", {})
    if not isinstance(raw_headers, dict):
        fields.fail("headers", f"expected a table of name = value, got {_describe(raw_headers)}")
    else:
        for header_name, header_value in raw_headers.items():
            where = f"headers.{header_name}"
            if not _HEADER_NAME.match(header_name):
                fields.fail(where, "not a valid header name")
            elif not isinstance(header_value, str):
                fields.fail(where, f"expected a string, got {_describe(header_value)}")
            elif "\r" in header_value or "\n" in header_value:
                fields.fail(where, "a header value cannot contain a line break")
            elif not header_value.isascii():
                fields.fail(where, "must be ASCII text (encode other characters yourself)")
            else:
                headers.append((header_name, header_value))

    body_text = fields.string("body")
    body = body_text.encode() if body_text else None
    if body is not None and len(body) > MAX_BODY_BYTES:
        fields.fail("body", f"at most {MAX_BODY_BYTES} bytes, got {len(body)}")

    n_min, n_max = DEFAULT_N_RANGE
    if fields.present("n_range"):
        raw_range = table["n_range"]
        if (
            not isinstance(raw_range, list)
            or len(raw_range) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in raw_range)
        ):
            fields.fail("n_range", f"expected [low, high] integers, got {_describe(raw_range)}")
        elif raw_range[0] > raw_range[1]:
            fields.fail("n_range", f"low is above high: {raw_range!r}")
        else:
            n_min, n_max = int(raw_range[0]), int(raw_range[1])
        if path is not None and PLACEHOLDER not in path:
            fields.fail("n_range", f"the path has no {PLACEHOLDER} to fill")

    name = fields.string("name")
    if len(problems) > count_before or path is None:
        return None
    return RequestSpec(
        name=name or f"{method} {path}",
        method=method,
        path=path,
        weight=float(weight) if weight is not None else 1.0,
        headers=tuple(headers),
        body=body,
        n_min=n_min,
        n_max=n_max,
    )


def _check_path(path: str, fields: _FieldReader) -> None:
    if len(path) > MAX_PATH_CHARS:
        fields.fail("path", f"at most {MAX_PATH_CHARS} characters, got {len(path)}")
        return
    if not path.startswith("/"):
        fields.fail("path", f"must start with '/', got {path!r}")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in path):
        fields.fail("path", f"must not contain spaces or control characters, got {path!r}")
    for match in _BRACES.finditer(path):
        if match.group(0) != PLACEHOLDER:
            fields.fail(
                "path", f"unknown placeholder {match.group(0)!r}; only {PLACEHOLDER} is supported"
            )


def load_profile(path: str | Path, *, overrides: Mapping[str, object] | None = None) -> LoadProfile:
    """Read and validate the profile file at ``path``.

    ``overrides`` replace fields of the ``[run]`` table before validation (a
    value of None removes the field), so they are checked like the file.
    Raises :class:`ProfileError` for a missing, unreadable or invalid file.
    """
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ProfileError(source, ["no such file"]) from None
    except OSError as exc:
        raise ProfileError(source, [f"cannot read: {exc.strerror or exc}"]) from None
    return parse_profile_text(raw, source=source, overrides=overrides)


def parse_profile_text(
    raw: bytes | str,
    *,
    source: str = "<profile>",
    overrides: Mapping[str, object] | None = None,
) -> LoadProfile:
    """Parse TOML text into a validated :class:`LoadProfile` (see :func:`load_profile`)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise ProfileError(source, [f"not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(source, [f"invalid TOML: {exc}"]) from None
    if overrides:
        run = data.get("run")
        run_table = dict(run) if isinstance(run, dict) else {}
        for key, value in overrides.items():
            if value is None:
                run_table.pop(key, None)
            else:
                run_table[key] = value
        data["run"] = run_table
    return parse_profile(data, source=source)


def builtin_profile_names() -> tuple[str, ...]:
    """Names of the profiles shipped with gtui (usable instead of a path)."""
    folder = resources.files(BUILTIN_PROFILES_PACKAGE)
    return tuple(
        sorted(
            entry.name.removesuffix(".toml")
            for entry in folder.iterdir()
            if entry.name.endswith(".toml")
        )
    )


def builtin_profile_text(name: str) -> str:
    """The TOML text of the shipped profile ``name``.

    Raises :class:`ProfileError` when there is no such profile.
    """
    if name not in builtin_profile_names():
        known = ", ".join(builtin_profile_names())
        raise ProfileError(name, [f"no such file or built-in profile (built-in: {known})"])
    return resources.files(BUILTIN_PROFILES_PACKAGE).joinpath(f"{name}.toml").read_text("utf-8")


def load_profile_or_builtin(
    name_or_path: str, *, overrides: Mapping[str, object] | None = None
) -> LoadProfile:
    """A profile from a file, or a shipped one by name when no such file exists."""
    if Path(name_or_path).exists() or name_or_path.endswith(".toml"):
        return load_profile(name_or_path, overrides=overrides)
    text = builtin_profile_text(name_or_path)
    return parse_profile_text(text, source=f"built-in:{name_or_path}", overrides=overrides)
