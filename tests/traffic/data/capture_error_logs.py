"""Capture the error log of a Gunicorn version into a data file.

Usage (from the repository root)::

    pip install --target /tmp/g201lib gunicorn==20.1.0 "setuptools<81"
    python -m tests.traffic.data.capture_error_logs 20.1.0 /tmp/g201lib

The file ``error_log_gunicorn-<version>.log`` holds the worker-life scenario
(see ``error_log_scenario.py``) then the boot failure; the pids the scenario
acted on are written to ``...pids.json`` so the test can check them.
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from tests.traffic.error_log_scenario import run_boot_failure, run_life_scenario

DATA_DIR = Path(__file__).resolve().parent


def main() -> None:
    version, *pythonpath = sys.argv[1:]
    with tempfile.TemporaryDirectory() as scratch:
        life_log = Path(scratch) / "life.log"
        failure_log = Path(scratch) / "failure.log"
        pids = run_life_scenario(life_log, pythonpath=pythonpath)
        exit_code = run_boot_failure(failure_log, pythonpath=pythonpath)
        text = life_log.read_text() + failure_log.read_text()
    (DATA_DIR / f"error_log_gunicorn-{version}.log").write_text(text)
    (DATA_DIR / f"error_log_gunicorn-{version}.pids.json").write_text(
        json.dumps({**asdict(pids), "boot_failure_exit_code": exit_code}, indent=2) + "\n"
    )
    print(f"{len(text.splitlines())} lines; pids {pids}; boot failure exit code {exit_code}")


if __name__ == "__main__":
    main()
