"""What a retune costs the clients: failed requests and time until the new config serves.

For each scenario a fresh container (gtui-test/gunicorn:latest, 2 sync
workers, host network, 127.0.0.1) is put under steady load by an
independent client, Debian's ``hey`` (bounded: ``--rate`` requests/s for
``--seconds``), and the action runs through the same engine the dashboard
uses, two seconds into the load:

- ``scale +2`` and ``scale -2`` (control socket)          goal: 0 failed
- in-place retune: worker_class gthread, threads 2,
  timeout 40 (gtui config file, --check-config, HUP)     goal: 0 failed
- re-create: workers 3, timeout 45 (-w pinned in Cmd)    goal: <= 2 s without service

Printed per scenario (medians over ``--repeats``): requests and failed
requests as ``hey`` counted them, the engine's "new config served after"
time, the longest outage its own 127.0.0.1 probe saw, and the client's
throughput as a ratio to a baseline run (same load, no action) measured in
the same run.

Usage: ``python benchmarks/retune_disruption.py [--repeats 3] [--seconds 8] [--rate 100]``
(needs Docker, the test images from ``python tests/images/build.py``, and ``hey``).
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._support import GUNICORN_LATEST, free_port, owner_labels, wait_http  # noqa: E402
from gunicorn_tui.control.engine import ControlEngine  # noqa: E402
from gunicorn_tui.control.planning.plan import RetunePlan  # noqa: E402
from gunicorn_tui.control.planning.requests import RetuneRequest, parse_scale  # noqa: E402
from gunicorn_tui.model.instances import InstanceSample  # noqa: E402
from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions  # noqa: E402
from gunicorn_tui.monitor.targets import parse_target  # noqa: E402

ACTION_AT_S = 2.0
CONCURRENCY = 4


@dataclass(frozen=True)
class Measured:
    requests: int
    failed: int
    rps: float
    served_after_s: float | None
    outage_s: float | None
    strategy: str | None
    ok: bool


Planner = Callable[[ControlEngine, InstanceSample], RetunePlan]

SCENARIOS: dict[str, tuple[tuple[str, ...], Planner | None, str]] = {
    "baseline (no action)": (("-w", "2"), None, "-"),
    "scale +2": (("-w", "2"), lambda e, s: e.plan_scale(s, parse_scale("+2")), "0 failed"),
    "scale -2": (("-w", "4"), lambda e, s: e.plan_scale(s, parse_scale("-2")), "0 failed"),
    "retune in place (HUP)": (
        ("-w", "2"),
        lambda e, s: e.plan_retune(s, RetuneRequest(worker_class="gthread", threads=2, timeout=40)),
        "0 failed",
    ),
    "retune by re-create": (
        ("-w", "2"),
        lambda e, s: e.plan_retune(s, RetuneRequest(workers=3, timeout=45)),
        "<= 2 s outage",
    ),
}


def sample(name: str) -> InstanceSample:
    monitor = Monitor(MonitorOptions(targets=(parse_target(name),)))
    monitor.open()
    try:
        for _ in range(50):
            monitor.sample()
            time.sleep(0.2)
            monitor.wait_for_probes(10)
            frame = monitor.sample()
            if len(frame.instances) == 1 and frame.instances[0].workers:
                return frame.instances[0]
            monitor.request_rescan()
    finally:
        monitor.close()
    raise RuntimeError(f"{name}: no Gunicorn found")


def parse_hey(output: str) -> tuple[int, int, float]:
    """(requests, failed, requests/s) from hey's summary."""
    ok = failed = 0
    section = ""
    for line in output.splitlines():
        if line.startswith("Status code distribution"):
            section = "status"
        elif line.startswith("Error distribution"):
            section = "errors"
        match = re.match(r"\s+\[(\d+)\]\s+(\d+) responses", line)
        if section == "status" and match:
            code, count = int(match.group(1)), int(match.group(2))
            ok += count if code < 500 else 0
            failed += count if code >= 500 else 0
        match = re.match(r"\s+\[(\d+)\]\s", line)
        if section == "errors" and match:
            failed += int(match.group(1))
    rps_match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    return ok + failed, failed, float(rps_match.group(1)) if rps_match else 0.0


def run_once(
    client: docker.DockerClient,
    args: tuple[str, ...],
    planner: Planner | None,
    seconds: float,
    rate: int,
    state_dir: Path,
) -> Measured:
    port = free_port()
    name = f"gtui-bench-retune-{port}"
    client.containers.run(
        GUNICORN_LATEST,
        ["gunicorn", *args, "-b", f"127.0.0.1:{port}", "app:app"],
        name=name,
        network_mode="host",
        labels={**owner_labels(), "gtui-bench": "retune"},
        detach=True,
    )
    try:
        wait_http(port, "/health", 30.0)
        engine = ControlEngine(state_directory=state_dir, docker_client=client)
        plan = planner(engine, sample(name)) if planner is not None else None
        if plan is not None and not plan.ok:
            raise RuntimeError(f"plan refused: {plan.refusal}")
        hey = subprocess.Popen(
            [
                "hey",
                "-z",
                f"{seconds}s",
                "-c",
                str(CONCURRENCY),
                "-q",
                str(max(1, rate // CONCURRENCY)),
                "-t",
                "5",
                f"http://127.0.0.1:{port}/fast",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        time.sleep(ACTION_AT_S)
        outcome = engine.execute(plan) if plan is not None else None
        output, _ = hey.communicate(timeout=seconds + 30)
        requests, failed, rps = parse_hey(output)
        return Measured(
            requests=requests,
            failed=failed,
            rps=rps,
            served_after_s=outcome.served_after_s if outcome else None,
            outage_s=outcome.disruption.longest_outage_s
            if outcome and outcome.disruption
            else None,
            strategy=plan.strategy.value if plan and plan.strategy else None,
            ok=outcome.ok if outcome else True,
        )
    finally:
        for leftover in client.containers.list(all=True, filters={"name": name}):
            leftover.remove(force=True, v=True)


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0, help="load duration per run")
    parser.add_argument("--rate", type=int, default=100, help="client requests per second")
    args = parser.parse_args()
    if not 1 <= args.repeats <= 10 or not 4 <= args.seconds <= 60 or not 1 <= args.rate <= 2000:
        parser.error("bounds: --repeats 1..10, --seconds 4..60, --rate 1..2000")
    if shutil.which("hey") is None:
        parser.error("needs hey (apt-get install hey)")
    client = docker.from_env()
    results: dict[str, list[Measured]] = {name: [] for name in SCENARIOS}
    with tempfile.TemporaryDirectory(prefix="gtui-bench-state-") as state:
        for repeat in range(args.repeats):
            for name, (gunicorn_args, planner, _) in SCENARIOS.items():
                measured = run_once(
                    client, gunicorn_args, planner, args.seconds, args.rate, Path(state)
                )
                results[name].append(measured)
                print(f"  run {repeat + 1} {name}: {measured}", file=sys.stderr)
    baseline_rps = median([m.rps for m in results["baseline (no action)"]]) or 1.0
    print(
        f"hey -c {CONCURRENCY} at {args.rate} req/s for {args.seconds:.0f} s per run, action at "
        f"{ACTION_AT_S:.0f} s; medians of {args.repeats} run(s)"
    )
    header = (
        f"{'scenario':<24} {'strategy':<38} {'requests':>8} {'failed':>6} "
        f"{'served after':>12} {'outage':>7} {'rps/base':>8}  goal"
    )
    print(header)
    print("-" * len(header))
    for name, (_, _, goal) in SCENARIOS.items():
        runs = results[name]
        served = median([m.served_after_s for m in runs])
        outage = median([m.outage_s for m in runs])
        rps = median([m.rps for m in runs]) or 0.0
        print(
            f"{name:<24} {runs[0].strategy or '-':<38} "
            f"{median([float(m.requests) for m in runs]) or 0:>8.0f} "
            f"{median([float(m.failed) for m in runs]) or 0:>6.0f} "
            f"{'-' if served is None else f'{served:.2f} s':>12} "
            f"{'-' if outage is None else f'{outage:.2f} s':>7} "
            f"{rps / baseline_rps:>8.2f}  {goal}"
            + ("" if all(m.ok for m in runs) else "  (an action FAILED)")
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
