"""The config file: effective settings and their sources, bad files refused
in one line (exit 2), a key written back without losing the user's lines."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest

from gunicorn_tui.user_config.config_file import (
    ConfigError,
    default_config_path,
    load_config,
    set_key,
)
from tests.core.monitor_waits import run_gtui


def _env(tmp_path: Path) -> dict[str, str]:
    return {"XDG_CONFIG_HOME": str(tmp_path), "GTUI_CONFIG": ""}


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gtui" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_where_the_file_is() -> None:
    assert default_config_path({"XDG_CONFIG_HOME": "/x", "HOME": "/h"}) == Path(
        "/x/gtui/config.toml"
    )
    assert default_config_path({"HOME": "/h"}) == Path("/h/.config/gtui/config.toml")
    # A relative XDG_CONFIG_HOME is ignored, as the spec says.
    assert default_config_path({"XDG_CONFIG_HOME": "rel", "HOME": "/h"}) == Path(
        "/h/.config/gtui/config.toml"
    )
    assert default_config_path({"GTUI_CONFIG": "/etc/g.toml", "HOME": "/h"}) == Path("/etc/g.toml")


def test_gtui_config_says_where_each_setting_comes_from(tmp_path: Path) -> None:
    path = _write(tmp_path, 'refresh_s = 2.5\nstatsd = "off"\n')
    done = run_gtui("--read-only", "config", "--json", env=_env(tmp_path))
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["config_file"] == {"path": str(path), "found": True}
    settings = document["settings"]
    assert settings["refresh_s"] == {"value": 2.5, "source": "config file"}
    assert settings["statsd"] == {"value": "off", "source": "config file"}
    assert settings["read_only"] == {"value": True, "source": "command line"}
    assert settings["export_dir"] == {"value": None, "source": "default"}
    text = run_gtui("config", env=_env(tmp_path))
    assert f"config file: {path}" in text.stdout
    assert [line.split() for line in text.stdout.splitlines() if line.startswith("refresh_s")] == [
        ["refresh_s", "2.5", "config", "file"]
    ]


def test_the_config_file_feeds_the_commands(tmp_path: Path) -> None:
    # statsd = "bogus" would be refused when read; a valid but odd one reaches
    # the command: `gtui ls` with the file's read_only and statsd off works.
    _write(tmp_path, 'statsd = "off"\nread_only = true\n')
    done = run_gtui("ls", "--no-docker", "--json", env=_env(tmp_path))
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("refersh_s = 2\n", "unknown key 'refersh_s'"),
        ('refresh_s = "fast"\n', "refresh_s: expected a number of seconds, got str 'fast'"),
        ("read_only = 1\n", "read_only: expected true or false, got int 1"),
        ('statsd = "nowhere"\n', 'statsd: expected "HOST:PORT" or "off", got \'nowhere\''),
        ("refresh_s = 0\n", "refresh_s: 0 is not between 0.1 and 60 seconds"),
        ("[hosts.prod]\nurl = 'ssh://x'\n", "[hosts] is for remote hosts"),
        ("refresh_s = \n", "not valid TOML"),
    ],
)
def test_a_bad_config_file_is_one_line_naming_key_and_file(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _write(tmp_path, text)
    done = run_gtui("ls", "--no-docker", env=_env(tmp_path))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"gtui ls: error: {path}: ")
    assert message in done.stderr


def test_config_named_on_the_command_line_must_exist(tmp_path: Path) -> None:
    done = run_gtui("--config", str(tmp_path / "absent.toml"), "config")
    assert done.returncode == 2
    assert "absent.toml: no such file" in done.stderr


def test_set_key_keeps_the_users_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, '# mine\nrefresh_s = 2.0  # fast\ntheme = "nord"\n')
    set_key(path, "theme", "gruvbox")
    assert path.read_text() == '# mine\nrefresh_s = 2.0  # fast\ntheme = "gruvbox"\n'
    fresh = tmp_path / "new" / "gtui" / "config.toml"
    set_key(fresh, "theme", 'a "quoted" name')
    assert tomllib.loads(fresh.read_text())["theme"] == 'a "quoted" name'
    assert fresh.stat().st_mode & 0o777 == 0o600
    assert load_config(fresh).theme == 'a "quoted" name'
    with pytest.raises(ConfigError):
        set_key(fresh, "refresh_s", "x")  # a string where a number goes: never written
    assert "refresh_s" not in fresh.read_text().replace("# refresh_s", "")


def test_config_init_writes_a_commented_template(tmp_path: Path) -> None:
    done = run_gtui("config", "--init", env=_env(tmp_path))
    assert done.returncode == 0
    path = tmp_path / "gtui" / "config.toml"
    assert load_config(path).given == ()  # everything commented out
    again = run_gtui("config", "--init", env=_env(tmp_path))
    assert "exists" in again.stdout
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_the_command_line_beats_read_only_in_the_file(tmp_path: Path) -> None:
    _write(tmp_path, "read_only = true\n")
    from_file = json.loads(run_gtui("config", "--json", env=_env(tmp_path)).stdout)
    assert from_file["settings"]["read_only"] == {"value": True, "source": "config file"}
    typed = json.loads(run_gtui("--no-read-only", "config", "--json", env=_env(tmp_path)).stdout)
    assert typed["settings"]["read_only"] == {"value": False, "source": "command line"}
    # and the file's read_only refuses actions before anything is looked at
    done = run_gtui("scale", "pid:1", "+1", "--yes", "--no-docker", env=_env(tmp_path))
    assert done.returncode == 1
    assert "read-only session" in done.stderr
