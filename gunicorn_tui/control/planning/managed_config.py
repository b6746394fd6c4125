"""The Gunicorn config file gtui writes for in-place retunes, and how it is recognised.

gtui never edits an operator's own config file. It only writes a file it
created itself, recognised by its first line, placed where Gunicorn reads
it on HUP (``./gunicorn.conf.py`` in the directory the master started in,
when no ``-c`` is given), and holding nothing but literal settings.
"""

from __future__ import annotations

from collections.abc import Mapping

from gunicorn_tui.control.planning.requests import RETUNABLE_SETTINGS
from gunicorn_tui.model.instances import ConfigValue
from gunicorn_tui.settings.config_file import Computed, parse_config_source

MARKER = "# gunicorn-tui managed config: written by gtui; gtui rewrites it on each retune."
DEFAULT_CONFIG_NAME = "gunicorn.conf.py"
CANDIDATE_SUFFIX = ".gtui-candidate.py"


def is_managed(text: str | None) -> bool:
    """True for a file gtui wrote (its first line is the marker)."""
    return text is not None and text.splitlines()[:1] == [MARKER]


def managed_settings(text: str) -> dict[str, ConfigValue]:
    """The settings in a gtui-managed file."""
    parsed = parse_config_source(text)
    return {
        name: value for name, value in parsed.settings.items() if not isinstance(value, Computed)
    }


def render_managed(settings: Mapping[str, ConfigValue]) -> str:
    """The text of a managed file holding ``settings`` (retunable ones, in order)."""
    lines = [
        MARKER,
        "# Remove this file (and send HUP) to return to the settings from the command",
        "# line, GUNICORN_CMD_ARGS and Gunicorn's defaults. `gtui revert` does that.",
    ]
    ordered = [name for name in RETUNABLE_SETTINGS if name in settings]
    ordered += sorted(name for name in settings if name not in RETUNABLE_SETTINGS)
    for name in ordered:
        lines.append(f"{name} = {settings[name]!r}")
    return "\n".join(lines) + "\n"


def candidate_path(path: str) -> str:
    """Where the new file is written and checked before it replaces ``path``."""
    return path.removesuffix(".py") + CANDIDATE_SUFFIX
