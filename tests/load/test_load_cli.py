"""``gtui load``: what the user typed is what is sent; exit codes, one-line
errors, JSON output, headless imports."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gunicorn_tui.cli.main import main
from tests.harness.local_gunicorn import LocalGunicornFactory
from tests.load.load_servers import LoadGunicorn, free_port

REPO = Path(__file__).resolve().parents[2]
MIXED = REPO / "gunicorn_tui" / "load" / "profiles" / "mixed.toml"


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["load", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gtui load: error: ")
    assert "Traceback" not in err
    return lines[0]


def test_a_url_is_that_url_at_that_rate_without_a_ramp(
    load_gunicorn: LoadGunicorn, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: a built-in profile the user never picked was used (its ramp of
    # 5 s refused a 2 s run) and its demo paths were sent instead of the URL's.
    code, out, err = _run(
        [f"{load_gunicorn.url}/status/204?mark=url-as-typed", "--rate", "5", "--duration", "2",
         "--json"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    # No ramp: 5 req/s for 2 s is 10 requests.
    assert data["sent"] == data["completed"] == 10
    assert data["status_counts"] == {"204": 10}
    load_gunicorn.wait_for_entries("mark=url-as-typed", 10)
    entries = load_gunicorn.access_entries("mark=url-as-typed")
    assert {(method, path, query) for method, path, query, _, _ in entries} == {
        ("GET", "/status/204", "mark=url-as-typed")
    }
    assert len(entries) == 10


def test_json_summary_of_paths_with_a_ramp_when_asked(
    load_gunicorn: LoadGunicorn, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(
        ["--url", load_gunicorn.url, "--path", "/fast", "--path", "/items/{n}",
         "--rate", "30", "--duration", "1", "--ramp-up", "0", "--json", "--seed", "3"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["sent"] == data["completed"] == 30
    assert data["mode"] == "open"
    assert data["stop_reason"] == "duration"
    assert data["errors"]["total"] == 0
    assert data["status_counts"] == {"200": 30}
    assert [e["name"] for e in data["endpoints"]] == ["GET /fast", "GET /items/{n}"]
    assert data["latency"]["p50_ms"] > 0
    assert "1s  sent" in err  # per-second progress goes to stderr


def test_a_profile_is_opt_in_and_its_comment_command_works(
    load_gunicorn: LoadGunicorn,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The command the bundled profile's comment shows, on a copy named as it says.
    text = MIXED.read_text()
    shown = re.findall(r"`(gtui load [^`]+)`", text)
    assert shown, "mixed.toml shows no gtui load command"
    monkeypatch.chdir(tmp_path)
    shutil.copy(MIXED, tmp_path / "your.toml")
    for command in shown:
        words = shlex.split(command.replace("http://127.0.0.1:8000", load_gunicorn.url))
        assert words[:2] == ["gtui", "load"]
        # Shortened so the test is quick; the rest is the comment's command.
        code, out, err = _run([*words[2:], "--duration", "1", "--rate", "20", "--quiet"], capsys)
        assert code == 0, (command, err)
        assert "ended       by duration" in out
        assert "your.toml" in out or "mixed" in out


def test_text_summary_from_a_profile_file(
    load_gunicorn: LoadGunicorn, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text(
        f'[run]\nmode = "closed"\nconcurrency = 2\nmax_requests = 20\n'
        f'base_url = "{load_gunicorn.url}"\n[[request]]\npath = "/status/503"\n'
    )
    code, out, err = _run(["--profile", str(profile), "--quiet"], capsys)
    assert code == 0, err
    assert err == ""
    assert "ended       by max_requests" in out
    assert "http_5xx 20" in out


def test_the_instance_bind_is_the_target(
    local_gunicorn: LocalGunicornFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    server = local_gunicorn.start("--workers", "1")
    code, out, err = _run(
        [f"pid:{server.pid}", "--no-docker", "--statsd", "off", "--path", "/fast",
         "--requests", "5", "--concurrency", "1", "--json", "--quiet"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["completed"] == 5
    assert data["target"] == server.base_url


def test_nothing_answers_is_a_failed_run(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    code, out, err = _run([url, "--rate", "10", "--duration", "0.5", "--quiet"], capsys)
    assert code == 1
    assert "connect_refused 5" in _one_error_line(err)
    assert "errors      100.0%" in out  # the summary is still printed


def test_usage_errors_are_one_line_with_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[run]\nrate_rps = "fast"\n[[request]]\npath = "/"\n')
    cases = {
        "unbounded and mistyped profile": ["--profile", str(bad), "--url", "http://127.0.0.1:1"],
        "missing file": ["--profile", str(tmp_path / "absent.toml"), "--url", "http://x:1"],
        "no target": ["--path", "/", "--rate", "1", "--duration", "1"],
        "bad url": ["--url", "127.0.0.1:80"],
        "unknown option": ["--duraton", "3"],
        "rate and concurrency": ["http://127.0.0.1:1/", "--rate", "1", "--concurrency", "2"],
        "not a number": ["http://127.0.0.1:1/", "--rate", "many"],
        "absurd rate": ["http://127.0.0.1:1/", "--rate", "1e9"],
        "bad placeholder": ["http://127.0.0.1:1", "--path", "/x/{id}"],
        "query with a profile": ["http://127.0.0.1:1/?a=1", "--profile", "mixed"],
    }
    for name, argv in cases.items():
        try:
            code, out, err = _run(argv, capsys)
        except SystemExit as exit_:  # argparse's own errors
            code = int(exit_.code or 0)
            out, err = capsys.readouterr()
        assert code == 2, name
        assert out == "", name
        _one_error_line(err)
    code, _, err = _run(["http://127.0.0.1:1", "--profile", str(bad)], capsys)
    assert code == 2
    assert "run.rate_rps: expected a number, got string 'fast'" in err
    assert "a run must be bounded" in err


def test_the_load_package_is_headless() -> None:
    # httpx itself imports its optional command line (click, rich) when they
    # are installed; that module is blocked here so the check is about our code.
    code = (
        "import sys; sys.modules['httpx._main'] = None;"
        "import gunicorn_tui.load, gunicorn_tui.load.cli, gunicorn_tui.load.report;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
