"""The config file: where it is, what it may hold, and writing one key back.

``$GTUI_CONFIG`` (or ``--config``) names the file; else it is
``$XDG_CONFIG_HOME/gtui/config.toml``, else ``~/.config/gtui/config.toml``.
A missing file is no error: every setting then has its default.

Every key is checked: an unknown key or a wrong type is a
:class:`ConfigError` naming the key and the file (a misspelt ``refersh_s``
must not be silently ignored). The tables ``[hosts.NAME]`` and
``[contexts.NAME]`` are reserved for remote hosts (issue 13) and refused
until gtui reads them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

CONFIG_ENV = "GTUI_CONFIG"
FILE_NAME = "config.toml"

# key -> (type description, check)
_RESERVED_TABLES = ("hosts", "contexts")


class ConfigError(ValueError):
    """A config file that cannot be used: one line naming the key and the file."""


@dataclass(frozen=True)
class UserConfig:
    """The settings a config file gives (None: not given there)."""

    path: Path
    found: bool
    refresh_s: float | None = None
    statsd: str | None = None
    export_dir: str | None = None
    read_only: bool | None = None
    theme: str | None = None
    given: tuple[str, ...] = field(default=())


# The keys, their meaning and default, in the order `gtui config` prints them.
KEYS: tuple[tuple[str, str], ...] = (
    ("refresh_s", "seconds between samples of the dashboard, 0.1 to 60"),
    ("statsd", 'where gtui listens for StatsD: "HOST:PORT", or "off"'),
    ("export_dir", "where exports are written (default: the current directory)"),
    ("read_only", "start every session read-only (actions disabled)"),
    ("theme", "the dashboard's theme (the command palette's 'Change theme' keeps it here)"),
)


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where the config file is when nothing names one."""
    env = os.environ if environ is None else environ
    explicit = env.get(CONFIG_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = env.get("XDG_CONFIG_HOME")
    root = Path(base).expanduser() if base and Path(base).is_absolute() else None
    if root is None:
        root = Path(env.get("HOME") or Path.home()) / ".config"
    return root / "gtui" / FILE_NAME


def load_config(path: Path | None = None) -> UserConfig:
    """Read and check the config file (``path``, else the default one)."""
    where = path if path is not None else default_config_path()
    try:
        raw = where.read_bytes()
    except FileNotFoundError:
        if path is not None:
            raise ConfigError(f"{where}: no such file") from None
        return UserConfig(path=where, found=False)
    except IsADirectoryError:
        raise ConfigError(f"{where}: is a directory, not a config file") from None
    except OSError as error:
        raise ConfigError(f"{where}: cannot read: {error.strerror or error}") from None
    # Only when there is a file to read (most starts have none).
    import tomllib

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{where}: not valid TOML: {error}") from None
    return _checked(data, where)


def _checked(data: Mapping[str, object], where: Path) -> UserConfig:
    values: dict[str, object] = {}
    known = [key for key, _ in KEYS]
    for key, value in data.items():
        if key in _RESERVED_TABLES:
            raise ConfigError(
                f"{where}: [{key}] is for remote hosts, which this gtui does not read yet"
            )
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(known)})")
        values[key] = _value(key, value, where)
    return UserConfig(path=where, found=True, given=tuple(values), **values)  # type: ignore[arg-type]


def _type_error(where: Path, key: str, expected: str, value: object) -> ConfigError:
    return ConfigError(f"{where}: {key}: expected {expected}, got {type(value).__name__} {value!r}")


def _value(key: str, value: object, where: Path) -> object:
    if key == "refresh_s":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _type_error(where, key, "a number of seconds", value)
        if not 0.1 <= float(value) <= 60:
            raise ConfigError(f"{where}: {key}: {value} is not between 0.1 and 60 seconds")
        return float(value)
    if key == "read_only":
        if not isinstance(value, bool):
            raise _type_error(where, key, "true or false", value)
        return value
    if not isinstance(value, str):
        raise _type_error(where, key, "a string", value)
    if key == "statsd":
        host, _, port = value.rpartition(":")
        if value.lower() != "off" and (not host or not port.isdigit() or not 0 < int(port) < 65536):
            raise ConfigError(f'{where}: statsd: expected "HOST:PORT" or "off", got {value!r}')
    if key == "theme" and not value.strip():
        raise ConfigError(f"{where}: theme: empty")
    return value


TEMPLATE = """\
# gtui's settings. The command line beats this file; `gtui config` shows the
# effective value of each and where it comes from.

# refresh_s = 1.0                 # seconds between samples of the dashboard (0.1 to 60)
# statsd = "127.0.0.1:8125"       # where gtui listens for Gunicorn's StatsD, or "off"
# export_dir = "~/gtui-exports"   # where exports are written (default: current directory)
# read_only = false               # start every session read-only
# theme = "textual-dark"          # kept here when you change it in the command palette
"""


_TOP_LEVEL_KEY = re.compile(r"^\s*(?P<key>[A-Za-z0-9_-]+)\s*=")


def set_key(path: Path, key: str, value: str) -> None:
    """Set a top-level string ``key`` in the file at ``path``, keeping every
    other line (comments included); the file is made (mode 0600, its
    directory 0700) if it does not exist."""
    toml_value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        text = TEMPLATE
    lines = text.splitlines()
    new_line = f"{key} = {toml_value}"
    first_table = next((i for i, line in enumerate(lines) if line.lstrip().startswith("[")),
                       len(lines))  # fmt: skip
    for index in range(first_table):
        match = _TOP_LEVEL_KEY.match(lines[index])
        if match and match.group("key") == key:
            lines[index] = new_line
            break
    else:
        lines.insert(first_table, new_line)
    body = "\n".join(lines) + "\n"
    # The file is checked as it would be read: a broken edit is never written.
    import tomllib

    _checked(tomllib.loads(body), path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(body)
    os.replace(temporary, path)


def write_template(path: Path) -> bool:
    """Write the commented template at ``path`` unless a file is there."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(TEMPLATE)
    return True
