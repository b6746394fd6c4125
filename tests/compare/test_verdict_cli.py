"""``gtui ab`` refuses, before anything runs, a run too short to answer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROFILE = '[run]\nmode = "closed"\nconcurrency = 2\nduration_s = 1\n[[request]]\npath = "/"\n'


def gtui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gunicorn_tui", *args],
        capture_output=True, text=True, timeout=60, cwd=REPO,
    )  # fmt: skip


def test_a_cap_too_short_to_answer_is_refused_before_it_starts(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text(PROFILE)
    # The target does not exist: the refusal comes before any lookup.
    done = gtui("ab", "pid:999999999", "--no-docker", "--profile", str(profile),
                "--workers", "2", "--cap", "10", "--yes")  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "cannot answer" in done.stderr and "rounds" in done.stderr
    one = gtui("ab", "pid:999999999", "--no-docker", "--profile", str(profile),
               "--workers", "2", "--one-switch", "--duration", "8", "--yes")  # fmt: skip
    assert one.returncode == 2 and "Traceback" not in one.stderr
    assert "--duration 8 s cannot answer" in one.stderr
    segment = gtui("ab", "pid:999999999", "--no-docker", "--profile", str(profile),
                   "--workers", "2", "--segment", "0.1", "--yes")  # fmt: skip
    assert segment.returncode == 2 and "--segment" in segment.stderr


def test_a_sweep_cap_too_short_for_its_grid_is_refused_before_it_starts(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text(PROFILE)
    done = gtui("sweep", "pid:999999999", "--no-docker", "--profile", str(profile),
                "--workers", "1,2,4", "--cap", "15", "--yes")  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "cannot answer" in done.stderr and "3 x" in done.stderr
