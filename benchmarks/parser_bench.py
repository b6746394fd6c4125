"""Access-log parser throughput against a bare ``re.match`` loop.

Renders lines with Gunicorn's own ``glogging`` code (the same ``atoms`` and
``SafeAtoms`` a live server uses), then, for the default format and for a
format with pid and duration, times in the same run:

* baseline: ``for line in lines: regex.match(line)`` with a plain regex of the
  same shape (what any regex-based parser must pay at least);
* ours: ``AccessLogParser.parse`` for every line (records built, nothing read);
* ours + fields: parse and read status, duration, pid, method and path (what
  the metrics do with each record).

Prints lines/s (median of several runs) and the ratio to the baseline.
Target: >= 250k lines/s for ``parse``. Run: ``python benchmarks/parser_bench.py``.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gunicorn_tui.traffic.access_log_format import (
    DEFAULT_ACCESS_LOG_FORMAT,
    AccessLogParser,
)
from tests.harness.rendered_log_lines import render_lines

PID_DURATION_FORMAT = DEFAULT_ACCESS_LOG_FORMAT + " %(p)s %(D)s"

# Plain regexes of the same shape, as one would write by hand.
BASELINES = {
    DEFAULT_ACCESS_LOG_FORMAT: re.compile(
        r'(\S+) (\S+) (\S+) \[([^\]]+)\] "(\S+) (\S+) (\S+)" (\d+) (\d+|-) "(.*?)" "(.*?)"$'
    ),
    PID_DURATION_FORMAT: re.compile(
        r'(\S+) (\S+) (\S+) \[([^\]]+)\] "(\S+) (\S+) (\S+)" (\d+) (\d+|-) "(.*?)" "(.*?)"'
        r" <(\d+)> (\d+)$"
    ),
}


def _time_once(work: Callable[[], None], count: int) -> float:
    started = time.perf_counter()
    work()
    return count / (time.perf_counter() - started)


def _median_rate(work: Callable[[], None], count: int, runs: int) -> float:
    return statistics.median(_time_once(work, count) for _ in range(runs))


def bench_format(access_log_format: str, lines: list[str], runs: int) -> dict[str, float]:
    baseline = BASELINES[access_log_format]
    parser = AccessLogParser(access_log_format)
    assert all(baseline.match(line) for line in lines), "baseline regex must match every line"
    assert all(parser.parse(line) is not None for line in lines), "parser must read every line"

    def bare_match() -> None:
        match = baseline.match
        for line in lines:
            match(line)

    def parse_only() -> None:
        parse = parser.parse
        for line in lines:
            parse(line)

    def parse_and_read() -> None:
        parse = parser.parse
        for line in lines:
            record = parse(line)
            if record is not None:
                _ = (record.status, record.duration_us, record.worker_pid)
                _ = (record.method, record.path)

    return {
        "re.match": _median_rate(bare_match, len(lines), runs),
        "parse": _median_rate(parse_only, len(lines), runs),
        "parse+fields": _median_rate(parse_and_read, len(lines), runs),
    }


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--lines", type=int, default=100_000)
    arguments.add_argument("--runs", type=int, default=5)
    options = arguments.parse_args()
    print(f"{options.lines} lines rendered by gunicorn's glogging, median of {options.runs} runs")
    for name, access_log_format in (
        ("default", DEFAULT_ACCESS_LOG_FORMAT),
        ("pid+duration", PID_DURATION_FORMAT),
    ):
        lines = render_lines(access_log_format, options.lines, seed=1)
        rates = bench_format(access_log_format, lines, options.runs)
        baseline = rates["re.match"]
        print(f"\n{name}: {access_log_format}")
        for label, rate in rates.items():
            verdict = ""
            if label == "parse":
                verdict = "  (target >= 250k: " + ("met" if rate >= 250_000 else "MISSED") + ")"
            print(
                f"  {label:13s} {rate / 1000:8.0f}k lines/s   "
                f"ratio to re.match {rate / baseline:5.2f}{verdict}"
            )


if __name__ == "__main__":
    main()
