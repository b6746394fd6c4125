"""``run_load_cli``: exit codes, one-line errors, JSON output, headless imports."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from gunicorn_tui.load.cli import run_load_cli
from tests.load.load_servers import LoadGunicorn, free_port

REPO = Path(__file__).resolve().parents[2]


def _run(argv: list[str], **kwargs: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_load_cli(argv, stdout=out, stderr=err, **kwargs)  # type: ignore[arg-type]
    return code, out.getvalue(), err.getvalue()


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gtui load: error: ")
    assert "Traceback" not in err
    return lines[0]


def test_json_summary_of_a_real_run(load_gunicorn: LoadGunicorn) -> None:
    code, out, err = _run(
        ["--url", load_gunicorn.url, "--path", "/fast", "--path", "/items/{n}",
         "--rate", "30", "--duration", "1", "--ramp-up", "0", "--json", "--seed", "3"]
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
    assert len(data["seconds"]) >= 1
    assert "1s  sent" in err  # per-second progress goes to stderr


def test_text_summary_from_a_profile_file(load_gunicorn: LoadGunicorn, tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text(
        f'[run]\nmode = "closed"\nconcurrency = 2\nmax_requests = 20\n'
        f'base_url = "{load_gunicorn.url}"\n[[request]]\npath = "/status/503"\n'
    )
    code, out, err = _run([str(profile), "--quiet"])
    assert code == 0, err
    assert err == ""
    assert "ended       by max_requests" in out
    assert "http_5xx 20" in out


def test_the_instance_bind_is_the_default_target(load_gunicorn: LoadGunicorn) -> None:
    code, out, _ = _run(
        ["--path", "/fast", "--requests", "5", "--concurrency", "1", "--json", "--quiet"],
        default_bind=load_gunicorn.bind,
    )
    assert code == 0
    assert json.loads(out)["completed"] == 5


def test_nothing_answers_is_a_failed_run() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, out, err = _run(["--url", url, "--path", "/", "--rate", "10", "--duration", "0.5",
                           "--ramp-up", "0", "--quiet"])  # fmt: skip
    assert code == 1
    assert "connect_refused 5" in _one_error_line(err)
    assert "errors      100.0%" in out  # the summary is still printed


def test_usage_errors_are_one_line_with_code_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[run]\nrate_rps = "fast"\n[[request]]\npath = "/"\n')
    cases = {
        "unbounded and mistyped profile": [str(bad), "--url", "http://127.0.0.1:1"],
        "missing file": [str(tmp_path / "absent.toml")],
        "no target": ["--path", "/", "--rate", "1", "--duration", "1", "--ramp-up", "0"],
        "bad url": ["--url", "127.0.0.1:80"],
        "unknown option": ["--duraton", "3"],
        "rate and concurrency": ["--rate", "1", "--concurrency", "2"],
        "not a number": ["--rate", "many"],
        "absurd rate": ["--url", "http://127.0.0.1:1", "--rate", "1e9"],
        "bad placeholder": ["--url", "http://127.0.0.1:1", "--path", "/x/{id}"],
    }
    for name, argv in cases.items():
        code, out, err = _run(argv)
        assert code == 2, name
        assert out == "", name
        _one_error_line(err)
    _, _, err = _run([str(bad)])
    assert "run.rate_rps: expected a number, got string 'fast'" in err
    assert "a run must be bounded" in err


def test_help_exits_0(capsys: object) -> None:
    assert run_load_cli(["--help"]) == 0


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
