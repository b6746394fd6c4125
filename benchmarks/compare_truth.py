"""Does the comparison tell noise from effect? Against a real Gunicorn.

1. A/A: the same config (2 sync workers) measured twice in a row under the
   same open-loop load, ``--runs`` times; each pair is compared with gtui's
   comparison (every metric, Holm-adjusted). Wanted: no significant
   difference in at least 19 of 20 runs.
2. A real change: a guided A/B (``run_guided_ab``) from 1 to 4 sync
   workers under a CPU-bound closed-loop load (4 clients on /cpu?ms=20).
   Wanted: reported significant (throughput up, latency down).

Runs are short (the machine has 2 shared cores): ``--seconds`` measured per
side after a 2 s load warm-up. ``--aa-load cpu`` runs the A/A part under
the CPU-bound load of part 2 instead (1 worker, as the bounded test does);
``--save FILE`` writes every A/A epoch's per-second units of every metric
as JSON, the real data ``compare_calibration.py --real-from`` reads;
``--skip-change`` leaves part 2 out.

    PYTHONPATH=. python benchmarks/compare_truth.py [--runs 20] [--seconds 12]
        [--aa-load mixed|cpu] [--save FILE] [--skip-change]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._support import SAMPLE_APP_DIR, free_port, wait_http
from gunicorn_tui.compare.comparison import EpochComparison, compare_epochs
from gunicorn_tui.compare.epochs import Epoch, EpochTracker
from gunicorn_tui.compare.guided_ab import AbSettings, run_guided_ab
from gunicorn_tui.compare.measurement import measure_epoch
from gunicorn_tui.compare.metrics import Metric, metric_units
from gunicorn_tui.compare.report import comparison_markdown
from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.control.planning.requests import RetuneRequest
from gunicorn_tui.load.profile import parse_profile_text
from gunicorn_tui.load.target import LoadTarget
from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target

ACCESS_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s %(p)s'
AA_PROFILE = (
    "[run]\nrate_rps = 30\nduration_s = 1\nconnections = 16\n"
    '[[request]]\npath = "/cpu?ms=5"\nweight = 1\n'
    '[[request]]\npath = "/io?ms=20"\nweight = 1\n'
)
CPU_PROFILE = (
    '[run]\nmode = "closed"\nconcurrency = 4\nduration_s = 1\nconnections = 4\n'
    '[[request]]\npath = "/cpu?ms=20"\n'
)


def start_gunicorn(workers: int, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A sync Gunicorn with an access log that gtui reads (latency and pid)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("GUNICORN_CMD_ARGS", "WEB_CONCURRENCY")}
    env["XDG_RUNTIME_DIR"] = str(workdir)
    process = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "--chdir", str(SAMPLE_APP_DIR),
            "-b", f"127.0.0.1:{port}", "-w", str(workers),
            "--access-logfile", str(workdir / "access.log"), "--access-logformat", ACCESS_FORMAT,
            "--error-logfile", str(workdir / "error.log"), "sample_app:app",
        ],
        cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_http(port)
    return process, port


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def _line(comparison: EpochComparison) -> str:
    parts = []
    for metric in (Metric.REQUESTS_PER_S, Metric.LATENCY_P50_MS, Metric.CLIENT_LATENCY_P99_MS):
        item = comparison.metric(metric)
        pct = f"{item.percent_change:+.1f}%" if item.percent_change is not None else "-"
        parts.append(f"{item.label} {pct}{item.significance.mark}")
    flagged = ", ".join(m.label for m in comparison.significant) or "none"
    return "  ".join(parts) + f"  | significant: {flagged}"


def epoch_units(epoch: Epoch) -> dict[str, list[list[float]]]:
    """Every metric's measured units: [numerators, denominators]."""
    measured = epoch.measured()
    units = {}
    for metric in Metric:
        found = metric_units(measured, metric)
        units[metric.value] = [list(found.numerators), list(found.denominators)]
    return units


def same_config(runs: int, seconds: float, load: str, save: Path | None) -> int:
    """A/A runs; returns how many reported no significant difference."""
    workdir = Path(tempfile.mkdtemp(prefix="gtui-truth-aa-"))
    if load == "cpu":
        process, port = start_gunicorn(1, workdir)
        profile = parse_profile_text(CPU_PROFILE, source="A/A 4 clients on /cpu?ms=20")
    else:
        process, port = start_gunicorn(2, workdir)
        profile = parse_profile_text(AA_PROFILE, source="A/A 30 req/s cpu+io")
    target = LoadTarget(f"http://127.0.0.1:{port}")
    clean = 0
    pairs: list[list[dict[str, list[list[float]]]]] = []
    try:
        options = MonitorOptions(
            targets=(parse_target(f"pid:{process.pid}"),), use_docker=False, statsd_address=None
        )
        with Monitor(options) as monitor:
            tracker = EpochTracker(warmup_s=0.0)
            for run in range(1, runs + 1):
                sides = []
                for side in ("A", "B"):
                    tracker.mark_change(f"run {run} side {side}", warmup_s=0.0)
                    measured = measure_epoch(
                        monitor.sample,
                        tracker,
                        duration_s=seconds + 2.0,
                        profile=profile,
                        target=target,
                        load_warmup_s=2.0,
                    )
                    sides.append(measured.epoch)
                comparison = compare_epochs(sides[0], sides[1])
                pairs.append([epoch_units(side) for side in sides])
                ok = comparison.enough_data and not comparison.any_significant
                clean += ok
                print(f"  A/A run {run:>2}: {'clean' if ok else 'FLAGGED'}  {_line(comparison)}")
                if not comparison.enough_data:
                    print(f"    (not enough data: {comparison.notes})")
    finally:
        _stop(process)
        if save is not None:
            document = {"load": load, "seconds": seconds, "pairs": pairs}
            save.write_text(json.dumps(document))
            print(f"  saved {len(pairs)} A/A pairs to {save}")
    return clean


def real_change(seconds: float) -> bool:
    """1 -> 4 sync workers under a CPU-bound load, through the guided A/B."""
    workdir = Path(tempfile.mkdtemp(prefix="gtui-truth-ab-"))
    process, port = start_gunicorn(1, workdir)
    state = Path(tempfile.mkdtemp(prefix="gtui-truth-state-"))
    try:
        options = MonitorOptions(
            targets=(parse_target(f"pid:{process.pid}"),), use_docker=False, statsd_address=None
        )
        with Monitor(options) as monitor:
            result = run_guided_ab(
                monitor.sample,
                EpochTracker(),
                ControlEngine(state_directory=state),
                RetuneRequest(workers=4),
                parse_profile_text(CPU_PROFILE, source="4 clients on /cpu?ms=20"),
                LoadTarget(f"http://127.0.0.1:{port}"),
                settings=AbSettings(measure_s=seconds, warmup_s=5.0, load_warmup_s=2.0),
            )
    finally:
        _stop(process)
    print(f"  guided A/B: {result.status.value} in {result.elapsed_s:.0f} s"
          + (f" ({result.reason})" if result.reason else ""))  # fmt: skip
    if result.outcome is not None:
        print(f"  retune: {result.outcome.summary()}")
    if result.comparison is None:
        return False
    print(comparison_markdown(result.comparison, title="1 -> 4 sync workers"))
    print("  metric               raw p      Holm p     df    drift share of variance")
    for item in result.comparison.metrics:
        test = item.test
        if test is None:
            continue
        variance = test.standard_error**2
        share = test.drift_variance / variance if variance > 0 else 0.0
        holm = item.p_value if item.p_value is not None else 1.0
        print(
            f"  {item.label:<20} {test.p_value:9.2g}  {holm:9.2g}  "
            f"{test.degrees_of_freedom:5.1f}  {100 * share:4.0f}%  {item.significance.value}"
        )
    return result.comparison.any_significant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--aa-load", choices=("mixed", "cpu"), default="mixed")
    parser.add_argument("--save", type=Path, default=None)
    parser.add_argument("--skip-change", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"1. same config against itself, {args.runs} runs of 2 x {args.seconds:g} s "
          f"({args.aa_load} load)")  # fmt: skip
    clean = same_config(args.runs, args.seconds, args.aa_load, args.save)
    print(f"   no significant difference in {clean} of {args.runs} runs "
          f"(wanted: at least {args.runs - args.runs // 20})")  # fmt: skip
    if args.skip_change:
        print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        print(f"total {time.monotonic() - started:.0f} s")
        return
    print("2. a real change: 1 -> 4 sync workers, 4 clients on /cpu?ms=20")
    found = real_change(args.seconds)
    print(f"   reported significant: {'yes' if found else 'NO'}")
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
