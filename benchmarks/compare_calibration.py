"""How often does each candidate test call noise "significant"? The data
behind the choice of method in gunicorn_tui/compare/significance.py.

Parts:

1. Synthetic AR(1) series (autocorrelation rho at lag 1, the shape the
   per-second figures have), A/A pairs: the false-positive rate at a nominal
   5 % of each method, for epochs of 15, 30 and 60 seconds; and the power
   against a shift of one standard deviation.
1b. The same with slow drift added: a random walk (``--drift`` standard
   deviations of the AR(1) noise per second, several values) running
   through both epochs and a 5 s gap between them (the warm-up of a change).
2. Real A/A pairs saved by ``compare_truth.py --save FILE`` (two epochs of
   the same config under the same load, one after the other, as gtui
   compares them): ``--real-from FILE...`` gives each method's false
   positive rate per metric, and how many pairs gtui's comparison (every
   metric, Holm, negligible sizes) flags, with and without the drift term.
3. A real Gunicorn (sync workers, sample app) under a steady load from the
   load driver, sampled once a second through the monitor and the epoch
   tracker for ``--seconds``: the measured autocorrelation of each metric,
   then A/A pairs of adjacent windows cut from that one configuration, with
   the same methods.

Methods: Welch's t on raw seconds (as if independent), Mann-Whitney U
(normal approximation), a moving-block bootstrap of the difference in
means (percentile interval), non-overlapping batch means (5 per epoch) +
Welch, and gtui's Welch with an AR(1) effective sample size, without and with the
drift term (``welch_test``). Uses numpy (not a gtui dependency) for the
bootstrap.

    PYTHONPATH=. python benchmarks/compare_calibration.py [--seconds 120] [--reps 400]
        [--real-from FILE...] [--skip-real]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._support import SAMPLE_APP_DIR, free_port, wait_http
from gunicorn_tui.compare.comparison import Significance, judge
from gunicorn_tui.compare.epochs import Epoch, EpochTracker
from gunicorn_tui.compare.measurement import measure_epoch
from gunicorn_tui.compare.metrics import Metric, Units, metric_units
from gunicorn_tui.compare.significance import holm_adjust, t_two_sided_p, welch_test
from gunicorn_tui.load.profile import parse_profile_text
from gunicorn_tui.load.target import LoadTarget
from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target

ALPHA = 0.05
Test = Callable[[Sequence[float], Sequence[float]], bool]
_rng = np.random.default_rng(20261128)


def _normal_two_sided(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2.0))


def welch_raw(a: Sequence[float], b: Sequence[float]) -> bool:
    """Welch's t on the seconds themselves (normal approximation)."""
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return bool(np.mean(a) != np.mean(b))
    return _normal_two_sided(float(np.mean(b) - np.mean(a)) / se) < ALPHA


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> bool:
    """Mann-Whitney U, normal approximation with tie-free variance."""
    values = np.concatenate([a, b])
    ranks = np.argsort(np.argsort(values, kind="stable"), kind="stable") + 1.0
    n1, n2 = len(a), len(b)
    u = ranks[:n1].sum() - n1 * (n1 + 1) / 2
    sd = math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    return _normal_two_sided((u - n1 * n2 / 2) / sd) < ALPHA


def block_bootstrap(a: Sequence[float], b: Sequence[float], resamples: int = 400) -> bool:
    """Moving-block bootstrap (block ~ n^(1/3), at least 3), percentile CI."""

    def means(series: Sequence[float]) -> np.ndarray:
        x = np.asarray(series, dtype=float)
        n = len(x)
        block = max(3, round(n ** (1 / 3)))
        starts_max = n - block + 1
        blocks_needed = math.ceil(n / block)
        starts = _rng.integers(0, starts_max, size=(resamples, blocks_needed))
        index = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(resamples, -1)[:, :n]
        resampled: np.ndarray = x[index].mean(axis=1)
        return resampled

    diffs = means(b) - means(a)
    low, high = np.quantile(diffs, [ALPHA / 2, 1 - ALPHA / 2])
    return bool(low > 0 or high < 0)


def batch_means(a: Sequence[float], b: Sequence[float], batches: int = 5) -> bool:
    """Non-overlapping batch means (5 per epoch) and Welch's t on them."""

    def means(series: Sequence[float]) -> list[float]:
        length = max(2, len(series) // batches)
        count = len(series) // length
        offset = len(series) - count * length
        return [
            float(np.mean(series[offset + i * length : offset + (i + 1) * length]))
            for i in range(count)
        ]

    ma, mb = means(a), means(b)
    if len(ma) < 3 or len(mb) < 3:
        return False
    va, vb = np.var(ma, ddof=1) / len(ma), np.var(mb, ddof=1) / len(mb)
    if va + vb == 0:
        return bool(np.mean(ma) != np.mean(mb))
    df = (va + vb) ** 2 / (va * va / (len(ma) - 1) + vb * vb / (len(mb) - 1))
    return t_two_sided_p(float(np.mean(mb) - np.mean(ma)) / math.sqrt(va + vb), float(df)) < ALPHA


def ar1_ess(a: Sequence[float], b: Sequence[float]) -> bool:
    """Welch with an AR(1) effective sample size, no drift term."""
    ua = Units(tuple(a), (1.0,) * len(a))
    ub = Units(tuple(b), (1.0,) * len(b))
    test = welch_test(ua, ub, min_units=6, account_for_drift=False)
    return test is not None and test.p_value < ALPHA


def gtui_method(a: Sequence[float], b: Sequence[float]) -> bool:
    """gtui's method: Welch with an AR(1) effective sample size and drift."""
    ua = Units(tuple(a), (1.0,) * len(a))
    ub = Units(tuple(b), (1.0,) * len(b))
    test = welch_test(ua, ub, min_units=6)
    return test is not None and test.p_value < ALPHA


METHODS: dict[str, Test] = {
    "welch raw": welch_raw,
    "mann-whitney": mann_whitney,
    "block bootstrap": block_bootstrap,
    "batch means": batch_means,
    "AR1 ESS": ar1_ess,
    "gtui (+drift)": gtui_method,
}


def ar1(n: int, rho: float, shift: float = 0.0) -> list[float]:
    """An AR(1) series with unit marginal variance."""
    noise = _rng.normal(size=n + 50) * math.sqrt(1 - rho * rho)
    x = np.empty(n + 50)
    x[0] = _rng.normal()
    for i in range(1, n + 50):
        x[i] = rho * x[i - 1] + noise[i]
    return list(x[50:] + shift)


def synthetic(reps: int) -> None:
    print("1. synthetic AR(1): rate of 'significant' at a nominal 5 %")
    print(f"   {reps} pairs per cell; power against a shift of 1 standard deviation")
    header = f"   {'rho':>4} {'n':>3}  " + "  ".join(f"{name:>15}" for name in METHODS)
    # Cells: false-positive rate (power).
    print(header)
    for rho in (0.0, 0.5, 0.8, 0.95):
        for n in (15, 30, 60):
            false = dict.fromkeys(METHODS, 0)
            power = dict.fromkeys(METHODS, 0)
            for _ in range(reps):
                a, b, c = ar1(n, rho), ar1(n, rho), ar1(n, rho, shift=1.0)
                for name, method in METHODS.items():
                    false[name] += method(a, b)
                    power[name] += method(a, c)
            cells = "  ".join(
                f"{100 * false[name] / reps:5.1f}% ({100 * power[name] / reps:3.0f}%)"
                for name in METHODS
            )
            print(f"   {rho:>4} {n:>3}  {cells}")


def drifting_pair(
    n: int, rho: float, drift: float, gap: int = 5
) -> tuple[list[float], list[float]]:
    """Two epochs of AR(1) noise (unit variance) riding on one random walk
    with ``drift`` standard deviations per second, ``gap`` seconds apart."""
    length = 2 * n + gap
    walk = np.cumsum(_rng.normal(size=length) * drift)
    noise = ar1(length, rho)
    series = [walk[i] + noise[i] for i in range(length)]
    return series[:n], series[n + gap :]


def synthetic_drift(reps: int, drifts: Sequence[float]) -> None:
    print("\n1b. AR(1) + random-walk drift, A/A pairs 5 s apart: false positives at 5 %")
    print(f"   {reps} pairs per cell; drift in noise standard deviations per second")
    print(f"   {'drift':>5} {'rho':>4} {'n':>3}  " + "  ".join(f"{n:>15}" for n in METHODS))
    for drift in drifts:
        for rho in (0.0, 0.5):
            for n in (15, 30, 60):
                false = dict.fromkeys(METHODS, 0)
                for _ in range(reps):
                    a, b = drifting_pair(n, rho, drift)
                    for name, method in METHODS.items():
                        false[name] += method(a, b)
                cells = "  ".join(f"{100 * false[name] / reps:14.1f}%" for name in METHODS)
                print(f"   {drift:>5} {rho:>4} {n:>3}  {cells}")


def _units(pair: list[list[float]]) -> Units:
    return Units(tuple(pair[0]), tuple(pair[1]))


def real_pairs(paths: Sequence[Path]) -> None:
    """A/A pairs recorded by compare_truth.py --save."""
    pairs = []
    for path in paths:
        document = json.loads(path.read_text())
        print(f"\n2. real A/A pairs from {path}: {len(document['pairs'])} pairs of "
              f"2 x {document['seconds']:g} s, {document['load']} load")  # fmt: skip
        pairs.extend(document["pairs"])
    per_metric = dict.fromkeys(METHODS, 0)
    tested = 0
    flagged = {True: 0, False: 0}
    for before, after in pairs:
        for metric in REAL_METRICS:
            a = _units(before[metric.value]).ratios()
            b = _units(after[metric.value]).ratios()
            if len(a) < 8 or len(b) < 8:
                continue
            tested += 1
            for name, method in METHODS.items():
                per_metric[name] += method(a, b)
        for drift in (False, True):
            flagged[drift] += _pair_flagged(before, after, drift)
    cells = "  ".join(f"{name} {100 * per_metric[name] / max(1, tested):4.1f}%" for name in METHODS)
    print(f"   per metric, {tested} metric pairs, 'significant' at 5 %:\n      {cells}")
    for drift in (False, True):
        print(f"   gtui's comparison {'with' if drift else 'without'} the drift term: "
              f"{flagged[drift]} of {len(pairs)} pairs flagged")  # fmt: skip


def _pair_flagged(
    before: dict[str, list[list[float]]], after: dict[str, list[list[float]]], drift: bool
) -> bool:
    """What compare_epochs would say about the pair: any metric significant
    after Holm's adjustment and beyond its negligible size."""
    tested = []
    for metric in Metric:
        a, b = _units(before[metric.value]), _units(after[metric.value])
        test = welch_test(a, b, account_for_drift=drift)
        if test is not None and a.value is not None:
            tested.append((metric, a.value, test))
    adjusted = holm_adjust([test.p_value for _, _, test in tested])
    return any(
        judge(metric, value, test.difference, p, ALPHA) is Significance.SIGNIFICANT
        for (metric, value, test), p in zip(tested, adjusted, strict=True)
    )


def _acf(values: Sequence[float], lag: int) -> float:
    x = np.asarray(values, dtype=float)
    x = x - x.mean()
    denominator = float((x * x).sum())
    return float((x[:-lag] * x[lag:]).sum() / denominator) if denominator else 0.0


def record_real(seconds: float) -> Epoch:
    """One configuration under one steady load, measured through gtui."""
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="gtui-calib-"))
    access_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s %(p)s'
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "--chdir", str(SAMPLE_APP_DIR),
            "-b", f"127.0.0.1:{port}", "-w", "2", "--access-logfile", str(workdir / "access.log"),
            "--access-logformat", access_format, "--error-logfile", str(workdir / "error.log"),
            "--no-control-socket", "sample_app:app",
        ],
        cwd=workdir,
    )  # fmt: skip
    try:
        wait_http(port)
        profile = parse_profile_text(
            "[run]\nrate_rps = 40\nduration_s = 1\nconnections = 16\n"
            '[[request]]\npath = "/cpu?ms=5"\nweight = 1\n'
            '[[request]]\npath = "/io?ms=20"\nweight = 1\n',
            source="calibration",
        )
        options = MonitorOptions(
            targets=(parse_target(f"pid:{server.pid}"),), use_docker=False, statsd_address=None
        )
        with Monitor(options) as monitor:
            tracker = EpochTracker()
            result = measure_epoch(
                monitor.sample,
                tracker,
                duration_s=seconds,
                profile=profile,
                target=LoadTarget(f"http://127.0.0.1:{port}"),
                load_warmup_s=5.0,
            )
        return result.epoch.measured()
    finally:
        server.terminate()
        server.wait(timeout=15)


REAL_METRICS = (
    Metric.REQUESTS_PER_S,
    Metric.LATENCY_P50_MS,
    Metric.LATENCY_P99_MS,
    Metric.CPU_PERCENT,
    Metric.CPU_MS_PER_REQUEST,
    Metric.BUSY_SHARE,
    Metric.MEMORY_BYTES,
    Metric.CLIENT_REQUESTS_PER_S,
    Metric.CLIENT_LATENCY_P50_MS,
    Metric.CLIENT_LATENCY_P99_MS,
)


def real(seconds: float) -> None:
    started = time.monotonic()
    epoch = record_real(seconds)
    print(
        f"\n3. a real Gunicorn (2 sync workers, 40 req/s of /cpu?ms=5 and /io?ms=20), "
        f"{len(epoch.server)} s measured in {time.monotonic() - started:.0f} s"
    )
    print("   lag-1/2/5 autocorrelation of each metric's seconds:")
    for metric in REAL_METRICS:
        ratios = metric_units(epoch, metric).ratios()
        if len(ratios) > 10:
            lags = "  ".join(f"{_acf(ratios, lag):+.2f}" for lag in (1, 2, 5))
            print(f"   {metric.value:<24} n={len(ratios):>3}  {lags}")
    print("   A/A pairs of adjacent windows of the same run (each pair shifted by 3 s):")
    start = epoch.measured_from
    end = max([s.end_at for s in epoch.server] + [r.end_at for r in epoch.resources])
    for window_s in (15, 30):
        counts = {name: 0 for name in METHODS}
        pairs = 0
        t = start
        while t + 2 * window_s <= end:
            first = epoch.within(t, t + window_s)
            second = epoch.within(t + window_s, t + 2 * window_s)
            for metric in REAL_METRICS:
                a = metric_units(first, metric).ratios()
                b = metric_units(second, metric).ratios()
                if len(a) < 8 or len(b) < 8:
                    continue
                pairs += 1
                for name, method in METHODS.items():
                    counts[name] += method(a, b)
            t += 3
        cells = "  ".join(f"{name} {100 * counts[name] / max(1, pairs):4.1f}%" for name in METHODS)
        print(f"   {window_s:>3} s windows, {pairs} metric pairs:\n      {cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="length of the real run")
    parser.add_argument("--reps", type=int, default=400, help="synthetic pairs per cell")
    parser.add_argument("--drift", type=float, nargs="*", default=[0.05, 0.1, 0.2])
    parser.add_argument("--real-from", type=Path, nargs="*", default=[])
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--skip-real", action="store_true", help="no live Gunicorn run")
    args = parser.parse_args()
    if not args.skip_synthetic:
        synthetic(args.reps)
        synthetic_drift(args.reps, args.drift)
    if args.real_from:
        real_pairs(args.real_from)
    if not args.skip_real:
        real(args.seconds)


if __name__ == "__main__":
    main()
