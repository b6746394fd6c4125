"""Does the interleaved verdict find known effects, fast, and stay quiet on
none? Against a real container, with effects the machine makes itself.

Known effects without touching the app: a container (2 sync workers,
gunicorn, access log) under a CPU-bound closed loop (4 clients on
/cpu?ms=20) is capped by ``docker update --cpus``: 1.0 against 0.5, 0.8 or
0.9 moves its throughput by about 2x, 20 % and 10 % (what it really moved
is printed: the machine is shared). Same-config runs switch 1.0 to 1.0.

Two steps, so one recording is judged by every method on the same data:

* ``record``: per run, interleaved rounds (switching the CPU quota, which
  is instant) for the whole cap, without stopping, each segment's figures
  and per-second units saved to a JSON file;
* ``analyze``: replays each recording's looks in time order (a round is
  looked at when its last segment closed) and reports, per effect size,
  the share detected and the median and worst time to a verdict, with the
  O'Brien-Fleming-type and the Pocock-type spending; beside them the old
  method (Welch with an AR(1) effective n and a drift term, Holm over the
  metrics, ``significance.py``) on the same seconds at the cap: all of one
  side's seconds against all of the other's.

    PYTHONPATH=. python benchmarks/verdict_truth.py record --runs 20 --out DIR
    PYTHONPATH=. python benchmarks/verdict_truth.py analyze DIR

``--runs`` per effect size (the issue's figures want 20; same-config runs
are ``--same`` (2) x ``--runs``); ``--sizes 0.5,0.8,0.9``; caps per size:
30, 60, 120 s and 60 s for same-config runs; ``--until EPOCH`` starts no
new set of runs after that time (a measuring window). The runs take the
interleaved runs' default shape (segment, settle). ``analyze --plan-cap``
(default: gtui ab's cap, 60 s) is the cap the looks spend alpha over when
a recording is shorter (the 2x runs record 30 s): a run with that cap
looks the same way until the recording ends.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import docker

from benchmarks._support import free_port
from gunicorn_tui.compare.comparison import judge
from gunicorn_tui.compare.epochs import EpochTracker
from gunicorn_tui.compare.interleave import (
    CLOSE_AFTER_S,
    LATENCY_P50,
    THROUGHPUT,
    InterleaveSettings,
    Segment,
    pairwise_judge,
    run_interleaved,
)
from gunicorn_tui.compare.metrics import Metric, Units, metric_units
from gunicorn_tui.compare.significance import holm_adjust, welch_test
from gunicorn_tui.compare.verdict import (
    MIN_ROUNDS,
    LookPlan,
    Spending,
    Verdict,
    look_at,
)
from gunicorn_tui.load.profile import parse_profile_text
from gunicorn_tui.load.target import LoadTarget
from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from tests.harness.containers import ContainerFactory
from tests.images import tags

ACCESS = ("--access-logfile", "-", "--access-logformat",
          '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s %(p)s')  # fmt: skip
CPU_PROFILE = (
    '[run]\nmode = "closed"\nconcurrency = 4\nduration_s = 1\nconnections = 4\n'
    '[[request]]\npath = "/cpu?ms=20"\n'
)
CAPS_S = {0.5: 30.0, 0.8: 60.0, 0.9: 120.0, 1.0: 60.0}
SAVED = (
    Metric.REQUESTS_PER_S,
    Metric.CLIENT_REQUESTS_PER_S,
    Metric.LATENCY_P50_MS,
    Metric.CLIENT_LATENCY_P50_MS,
    Metric.LATENCY_P90_MS,
    Metric.LATENCY_P99_MS,
)
_PERIOD_US = 100_000


class CpuQuotaSwitcher:
    """Sides are CPU quotas of one container (``docker update --cpus``)."""

    def __init__(self, client: docker.DockerClient, container_id: str, cpus: tuple[float, ...]):
        self.client = client
        self.container_id = container_id
        self.cpus = cpus

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f"cpus={value:g}" for value in self.cpus)

    def expected_workers(self, side: int) -> int | None:
        return None

    def switch(self, side: int) -> str:
        quota = int(self.cpus[side] * _PERIOD_US)
        self.client.api.update_container(self.container_id, cpu_period=_PERIOD_US, cpu_quota=quota)
        return f"cpus {self.cpus[side]:g}"


def _units(units: Units) -> list[list[float]]:
    return [list(units.numerators), list(units.denominators)]


def _segment_record(segment: Segment, started: float) -> dict[str, Any]:
    epoch = segment.epoch
    return {
        "round": segment.round,
        "side": segment.side,
        "closed_at_s": segment.ended_at + CLOSE_AFTER_S - started,
        "values": {m.value: segment.value(m) for m in Metric},
        "units": {m.value: _units(metric_units(epoch, m)) for m in SAVED} if epoch else {},
    }


def record_run(
    client: docker.DockerClient, factory: ContainerFactory, size: float, out: Path, index: int
) -> None:
    port = free_port()
    command = ["gunicorn", "-w", "2", *ACCESS, "-b", f"127.0.0.1:{port}", "app:app"]
    container = factory.start(
        tags.GUNICORN_LATEST, command, cpu_period=_PERIOD_US, cpu_quota=_PERIOD_US
    )
    factory.wait_http(container, port)
    options = MonitorOptions(targets=(parse_target(container.name or ""),), statsd_address=None)
    with Monitor(options) as monitor:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            frame = monitor.sample()
            if frame.instances and len(frame.instances[0].workers) == 2:
                break
            time.sleep(0.5)
        tracker = EpochTracker(warmup_s=0)
        cap = CAPS_S[size]
        switcher = CpuQuotaSwitcher(client, container.id or "", (1.0, size))
        settings = InterleaveSettings(cap_s=cap, stop_when_conclusive=False, seed=index)
        plan = LookPlan(cap_s=cap, primary=2)
        started = time.time()
        result = run_interleaved(
            monitor.sample,
            tracker,
            switcher,
            parse_profile_text(CPU_PROFILE, source="cpu"),
            LoadTarget(f"http://127.0.0.1:{port}"),
            pairwise_judge(0, 1, (THROUGHPUT, LATENCY_P50), plan),
            settings=settings,
        )
    container.remove(force=True)
    document = {
        "size": size,
        "cap_s": cap,
        "status": result.status.value,
        "reason": result.reason,
        "notes": list(result.notes),
        "segments": [_segment_record(s, started) for s in result.segments if s.epoch],
    }
    path = out / f"run-{size:g}-{index:02d}.json"
    path.write_text(json.dumps(document))
    final = result.final
    line = final.effect(Metric.REQUESTS_PER_S) if final else None
    print(f"  {path.name}: {result.status.value}, {result.rounds()} rounds, "
          f"req/s {line.text() if line else '-'}", flush=True)  # fmt: skip


def record(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    client = docker.from_env()
    factory = ContainerFactory(client)
    sizes = [float(value) for value in args.sizes.split(",")]
    try:
        for index in range(args.runs):
            for size in sizes:
                print(f"run {index + 1}/{args.runs}, cpus 1.0 vs {size:g}", flush=True)
                record_run(client, factory, size, out, index)
            for extra in range(args.same):
                print(f"run {index + 1}/{args.runs}, same config #{extra + 1}", flush=True)
                record_run(client, factory, 1.0, out, args.same * index + extra)
            if args.until and time.time() >= args.until:
                print("stopping: --until reached", flush=True)
                break
    finally:
        factory.close()
    return 0


# -- analyze -----------------------------------------------------------------------------


def _rounds(segments: list[dict[str, Any]]) -> list[dict[int, dict[str, Any]]]:
    by_round: dict[int, dict[int, dict[str, Any]]] = {}
    for segment in segments:
        by_round.setdefault(segment["round"], {})[segment["side"]] = segment
    return [by_round[n] for n in sorted(by_round) if len(by_round[n]) == 2]


def sequential_verdict(
    document: dict[str, Any], spending: Spending, plan_cap_s: float = 0.0
) -> tuple[str, float | None, float | None]:
    """Replay the looks: (throughput's verdict, seconds until throughput was
    conclusive, seconds until every primary metric was: the run's stop).

    ``plan_cap_s``: the cap the looks spend alpha over when longer than the
    recording (a run with that cap is the same run until the recording
    ends; its last look then spends nothing extra)."""
    rounds = _rounds(document["segments"])
    cap = document["cap_s"]
    plan = LookPlan(cap_s=max(cap, plan_cap_s), primary=2, spending=spending)
    previous = 0.0
    verdict, throughput_at = Verdict.INCONCLUSIVE.value, None
    for count in range(MIN_ROUNDS, len(rounds) + 1):
        done = rounds[:count]
        at = min(cap, max(s["closed_at_s"] for r in done for s in r.values()))
        last = count == len(rounds) and cap >= plan.cap_s
        level = plan.level(previous, cap if last else at)
        previous = at
        before = {m: [r[0]["values"][m.value] for r in done] for m in Metric}
        after = {m: [r[1]["values"][m.value] for r in done] for m in Metric}
        primary = [Metric.REQUESTS_PER_S, Metric.LATENCY_P50_MS]
        if all(v is None for v in before[Metric.REQUESTS_PER_S]):
            primary = [Metric.CLIENT_REQUESTS_PER_S, Metric.CLIENT_LATENCY_P50_MS]
        effects = look_at(before, after, primary, level=level)
        primaries = [e for e in effects if e.primary]
        if throughput_at is None and primaries[0].verdict.conclusive:
            verdict, throughput_at = primaries[0].verdict.value, at
        if all(e.verdict.conclusive for e in primaries):
            return verdict, throughput_at, at
    return verdict, throughput_at, None


def old_verdict(document: dict[str, Any]) -> str:
    """The old test on the same seconds: every A second against every B second."""
    pooled: dict[int, dict[str, list[list[float]]]] = {0: {}, 1: {}}
    for segment in document["segments"]:
        for name, (numerators, denominators) in segment["units"].items():
            side = pooled[segment["side"]].setdefault(name, [[], []])
            side[0].extend(numerators)
            side[1].extend(denominators)
    tests = {}
    for metric in SAVED:
        a, b = pooled[0].get(metric.value), pooled[1].get(metric.value)
        if not a or not b:
            continue
        ua, ub = Units(tuple(a[0]), tuple(a[1])), Units(tuple(b[0]), tuple(b[1]))
        test = welch_test(ua, ub)
        if test is not None and ua.value is not None:
            tests[metric] = (test, ua.value)
    if Metric.REQUESTS_PER_S not in tests:
        return "not enough data"
    adjusted = dict(zip(tests, holm_adjust([t.p_value for t, _ in tests.values()]), strict=True))
    test, before = tests[Metric.REQUESTS_PER_S]
    return judge(Metric.REQUESTS_PER_S, before, test.difference, adjusted[Metric.REQUESTS_PER_S],
                 0.05).value  # fmt: skip


def measured_effect(document: dict[str, Any]) -> float | None:
    rounds = _rounds(document["segments"])
    ratios = [
        r[1]["values"]["requests_per_s"] / r[0]["values"]["requests_per_s"]
        for r in rounds
        if r[0]["values"]["requests_per_s"] and r[1]["values"]["requests_per_s"]
    ]
    return statistics.median(ratios) - 1.0 if ratios else None


def settle_check(documents: list[dict[str, Any]]) -> None:
    """Is the settle long enough? The effect seen in the first measured
    second after a switch against the one in the next second of the same
    side (the same segment's, or the next segment's when the side runs on):
    a switch not yet settled shows a smaller effect first."""
    first, second = [], []
    for document in documents:
        if document["size"] == 1.0:
            continue
        segments = sorted(document["segments"], key=lambda s: s["closed_at_s"])
        # Each side's stretches between switches, their seconds in order.
        stretches: list[tuple[int, list[float]]] = []
        for segment in segments:
            seconds = segment["units"].get("requests_per_s", [[], []])[0]
            if stretches and stretches[-1][0] == segment["side"]:
                stretches[-1][1].extend(seconds)
            else:
                stretches.append((segment["side"], list(seconds)))
        for (side_before, before), (_, after) in itertools.pairwise(stretches):
            if before and len(after) >= 2 and min(before[-1], after[0], after[1]) > 0:
                # As side 1 over side 0, whichever way the switch went.
                sign = 1.0 if side_before == 0 else -1.0
                first.append(sign * math.log(after[0] / before[-1]))
                second.append(sign * math.log(after[1] / before[-1]))
    if first:
        print(f"settle check ({len(first)} switches with an effect): median log-ratio to the "
              f"second before the switch, first second after it {statistics.median(first):+.3f}, "
              f"second one {statistics.median(second):+.3f}")  # fmt: skip


def analyze(args: argparse.Namespace) -> int:
    documents = [json.loads(p.read_text()) for p in sorted(Path(args.directory).glob("run-*.json"))]
    sizes = sorted({d["size"] for d in documents})
    print("| cpus | runs | measured req/s effect (median) | method | req/s detected | "
          "median s | worst s | run conclusive (all primary) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for size in sizes:
        runs = [d for d in documents if d["size"] == size]
        effects = [e for e in map(measured_effect, runs) if e is not None]
        effect = f"{100 * statistics.median(effects):+.0f}%" if effects else "-"
        for spending in Spending:
            verdicts = [sequential_verdict(d, spending, args.plan_cap) for d in runs]
            stopped = sum(1 for _, _, t in verdicts if t is not None)
            if size == 1.0:
                hits = sum(v == "significant" for v, _, _ in verdicts)
                label = f"{hits}/{len(runs)} false alarms"
                times = [t for v, t, _ in verdicts if v == "negligible" and t is not None]
            else:
                hits = sum(v == "significant" for v, _, _ in verdicts)
                label = f"{hits}/{len(runs)}"
                times = [t for v, t, _ in verdicts if v == "significant" and t is not None]
            median = f"{statistics.median(times):.0f}" if times else "-"
            worst = f"{max(times):.0f}" if times else "-"
            print(f"| {size:g} | {len(runs)} | {effect} | interleaved, {spending.value} | {label} "
                  f"| {median} | {worst} | {stopped}/{len(runs)} |")  # fmt: skip
        old = [old_verdict(d) for d in runs]
        hits = sum(v == "significant" for v in old)
        label = f"{hits}/{len(runs)}" + (" false alarms" if size == 1.0 else "")
        print(f"| {size:g} | {len(runs)} | {effect} | old test, same seconds, at the cap | "
              f"{label} | {runs[0]['cap_s']:.0f} (fixed) | - | - |")  # fmt: skip
    print("\nSame-config rows: 'median s' is the time to a 'negligible' throughput verdict.")
    settle_check(documents)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    recording = commands.add_parser("record")
    recording.add_argument("--runs", type=int, default=20)
    recording.add_argument("--sizes", default="0.5,0.8,0.9")
    recording.add_argument("--out", required=True)
    recording.add_argument("--same", type=int, default=2, help="same-config runs per --runs")
    recording.add_argument(
        "--until", type=float, default=0.0, help="no new round of runs after this epoch time"
    )
    analysis = commands.add_parser("analyze")
    analysis.add_argument("directory")
    analysis.add_argument(
        "--plan-cap",
        type=float,
        default=InterleaveSettings.cap_s,
        help="the looks spend alpha over this cap where a recording is shorter (the default "
        "cap of gtui ab: a shorter recording gives the same looks as far as it goes)",
    )
    args = parser.parse_args()
    return record(args) if args.command == "record" else analyze(args)


if __name__ == "__main__":
    sys.exit(main())
