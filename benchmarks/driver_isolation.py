"""Does the dashboard distort the load driver's latencies? Thread against process.

In gtui, a comparison or a sweep runs the load driver from inside the
dashboard's process. With the driver in a thread (gtui before issue 16),
its event loop shares the GIL with Textual's redraws and the sampler, and
a response that arrives while they hold it waits: the client's latency then
includes gtui's own work. With the driver in a process of its own, it
should not.

Starts a Gunicorn (the sample app, 4 gthread workers x 8 threads) on a free
127.0.0.1 port, then runs the same fixed-rate load (``--rate`` req/s of
``/io?ms=20`` for ``--seconds``) four ways, alternating round by round:

- ``alone``: the load run in a bare Python process, nothing else in it;
- ``dashboard``: the same run started from a thread inside a real ``gtui
  pid:<master>`` dashboard on a pseudo-terminal of 80x24 (drained by this
  script), redrawing once a second while it watches the very server under
  load;

each with ``isolation="thread"`` and ``"process"`` (the new way; with
``--isolations`` also ``process-idle``, the caller's threads under
``SCHED_IDLE`` during the run instead of nice 10, and ``process-noyield``,
not lowered at all); with
``--baseline-root DIR`` also with the driver of another source tree
(``git archive main | tar -x -C DIR``: today's figure, the old stack in a
thread).
Printed: medians over the rounds of each way's p50 and p99 (latency from
the due time, as comparisons use it), and the dashboard's p99 against the
alone p99 of the same isolation.

Usage: ``python benchmarks/driver_isolation.py [--rounds 3] [--seconds 20]``
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._support import free_port  # noqa: E402
from benchmarks.dashboard_cost import spawn_on_pty  # noqa: E402
from benchmarks.load_driver_bench import server_view, start_gunicorn  # noqa: E402

PATH = "/io?ms=20"
# The dashboard's first frame and first samples come before the load.
START_DELAY_S = 4.0

# Runs in the child: the load alone, or beside the dashboard. argv: result
# file, isolation, url, rate, seconds, "alone" | "dashboard", gtui args...
CHILD = r"""
import json, os, signal, sys, threading, time
sys.path.insert(0, sys.argv[1])
result_file, isolation, url, rate, seconds, where = sys.argv[2:8]
gtui_args = sys.argv[8:]
from gunicorn_tui.load.driver import run_load
from gunicorn_tui.load.profile import parse_profile_text
from gunicorn_tui.load.target import LoadTarget

def load():
    if where == "dashboard":
        time.sleep(float(os.environ["START_DELAY_S"]))
    profile = parse_profile_text(
        f"[run]\nrate_rps = {rate}\nduration_s = {seconds}\nconnections = 20\n"
        f'[[request]]\npath = "{os.environ["LOAD_PATH"]}"\n'
    )
    if isolation == "baseline":  # an older tree whose driver has no isolation
        summary = run_load(profile, LoadTarget(url))
    elif isolation in ("process-idle", "process-noyield"):
        # The caller's threads under SCHED_IDLE during the run (instead of
        # nice 10, gtui's way), or not lowered at all.
        from gunicorn_tui.load import cpu_yield
        from gunicorn_tui.load.driver import LoadRun
        cpu_yield.YIELD_MODE = "idle"
        run = LoadRun(profile, LoadTarget(url), isolation="process",
                      yield_cpu=isolation == "process-idle").start()
        summary = run.join()
    else:
        summary = run_load(profile, LoadTarget(url), isolation=isolation)
    with open(result_file, "w") as out:
        json.dump({
            "p50_ms": summary.latency.p50_ms, "p99_ms": summary.latency.p99_ms,
            "service_p99_ms": summary.service.p99_ms, "completed": summary.completed,
            "errors": summary.errors.total,
            "stack": getattr(summary, "client_stack", "") or "h11 on asyncio streams",
        }, out)
    if where == "dashboard":
        os.kill(os.getpid(), signal.SIGHUP)  # the dashboard exits on a hangup

if where == "alone":
    load()
else:
    threading.Thread(target=load, daemon=True).start()
    from gunicorn_tui.cli.main import main
    sys.exit(main(gtui_args))
"""


def run_one(
    isolation: str,
    where: str,
    url: str,
    rate: float,
    seconds: float,
    master_pid: int,
    access_log: Path,
    root: Path = ROOT,
) -> dict[str, float]:
    marker = uuid.uuid4().hex[:10]
    with tempfile.TemporaryDirectory(prefix="gtui-isolation-") as folder:
        result = Path(folder) / "result.json"
        argv = [
            sys.executable, "-c", CHILD, str(root), str(result), isolation, url,
            f"{rate:g}", f"{seconds:g}", where, f"pid:{master_pid}",
        ]  # fmt: skip
        os.environ["START_DELAY_S"] = str(START_DELAY_S)
        os.environ["LOAD_PATH"] = f"{PATH}&run={marker}"
        bound_s = seconds + START_DELAY_S + 60
        if where == "alone":
            subprocess.run(argv, check=True, timeout=bound_s)
        else:
            pid, fd = spawn_on_pty(argv)
            deadline = time.monotonic() + bound_s
            try:
                while time.monotonic() < deadline:
                    ready, _, _ = select.select([fd], [], [], 0.5)
                    if ready:
                        try:
                            if not os.read(fd, 65536):
                                break
                        except OSError:
                            break  # the pty closed: the dashboard exited
                    finished, _ = os.waitpid(pid, os.WNOHANG)
                    if finished:
                        break
            finally:
                try:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                except (ProcessLookupError, ChildProcessError):
                    pass
                os.close(fd)
        if not result.exists():
            raise SystemExit(f"no result from the {where}/{isolation} run")
        data: dict[str, float] = json.loads(result.read_text())
    data["server_p50_ms"], data["server_p99_ms"] = server_view(access_log, marker, seconds, rate)
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument(
        "--isolations",
        default="thread,process",
        help="comma-separated: thread, process (the caller's threads at nice 10 during the "
        "run), process-idle (under SCHED_IDLE instead), process-noyield (not lowered)",
    )
    parser.add_argument(
        "--baseline-root",
        type=Path,
        help="also run, as 'baseline', the driver of this source tree (e.g. main's, from "
        "git archive), which runs in a thread of the caller",
    )
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_dir = Path(tempfile.mkdtemp(prefix="gtui-isolation-log-"))
    access_log = log_dir / "access.log"
    server = start_gunicorn(port, access_log)
    print(
        f"gunicorn at {url} (master pid {server.pid}); {args.rate:g} req/s of {PATH} for "
        f"{args.seconds:g} s per run; load average at start: {os.getloadavg()[0]:.2f}"
    )
    known = ("thread", "process", "process-idle", "process-noyield")
    chosen = tuple(i.strip() for i in args.isolations.split(",") if i.strip())
    if not chosen or any(i not in known for i in chosen):
        raise SystemExit(f"--isolations: choose among {', '.join(known)}")
    isolations = chosen + (("baseline",) if args.baseline_root else ())
    ways = [(w, i) for w in ("alone", "dashboard") for i in isolations]
    results: dict[tuple[str, str], list[dict[str, float]]] = {way: [] for way in ways}
    try:
        for round_number in range(args.rounds):
            for where, isolation in ways:
                root = args.baseline_root if isolation == "baseline" else ROOT
                data = run_one(
                    isolation, where, url, args.rate, args.seconds, server.pid, access_log, root
                )
                if data["errors"]:
                    raise SystemExit(f"{where}/{isolation}: {data['errors']} errors")
                results[(where, isolation)].append(data)
                print(
                    f"round {round_number + 1} {where:<9} {isolation:<7} "
                    f"p50 {data['p50_ms']:.2f} ms  p99 {data['p99_ms']:.2f} ms  "
                    f"server p99 {data['server_p99_ms']:.2f} ms  "
                    f"({data['completed']:.0f} responses, {data['stack']})",
                    file=sys.stderr,
                )
    finally:
        server.terminate()
        server.wait(timeout=10)
        access_log.unlink(missing_ok=True)
        log_dir.rmdir()
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    print(f"\nmedians of {args.rounds} rounds (latency from the due time; server: Gunicorn's own")
    print("request time for the same run, from its access log; 'added' = client - server)")
    print(
        f"{'where':<11}{'isolation':<11}{'p50 ms':>8}{'p99 ms':>8}{'server p99':>12}"
        f"{'added p50':>11}{'added p99':>11}{'p99 vs alone':>14}"
    )

    def med(key: str, runs: list[dict[str, float]]) -> float:
        return statistics.median(r[key] for r in runs)

    def added(key: str, runs: list[dict[str, float]]) -> float:
        return statistics.median(r[f"{key}_ms"] - r[f"server_{key}_ms"] for r in runs)

    for (where, isolation), runs in results.items():
        alone = results[("alone", isolation)]
        change = 100 * (med("p99_ms", runs) / med("p99_ms", alone) - 1)
        print(
            f"{where:<11}{isolation:<11}{med('p50_ms', runs):>8.2f}{med('p99_ms', runs):>8.2f}"
            f"{med('server_p99_ms', runs):>12.2f}{added('p50', runs):>+11.2f}"
            f"{added('p99', runs):>+11.2f}{change:>+13.1f}%"
        )


if __name__ == "__main__":
    main()
