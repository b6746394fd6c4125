"""What the dashboard costs: CPU, bytes to the terminal, time to a full first frame.

Starts one container (8 sync workers) from the test images, then runs the
installed ``gtui <container>`` on a pseudo-terminal of 80x24 (what an SSH
session carries), and measures:

- time from exec to the first full frame: the screen (rendered with the
  ``pyte`` terminal emulator) shows all 8 worker pids, each with a CPU figure;
  with gtui's CPU to it, and apart, the CPU of the children it reaped by
  then (the forked child that samples the first frame);
- CPU of the gtui process (user + system, all threads) per wall second over
  ``--seconds`` at 1 Hz, after the first 5 s;
- bytes per second gtui writes to the terminal over the same window.

Baseline in the same run: ``top -b -d 1`` on the same pty (a classic
once-a-second terminal monitor), CPU and bytes per second, so the figures can
be judged against something familiar on this machine today.

Then, with 9 more containers of the same image (10 in all), the wall time of
``gtui ls`` (each container listed with its instance), beside ``python -c
pass`` (an interpreter's start, the floor of any Python tool) and ``docker
ps`` (the engine's own listing) timed in the same rounds, medians of
``--repeats`` x 5.

Targets (issue 16): first full frame <= 0.5 s, dashboard <= 1% of one core
and <= 4 KB/s at 80x24, ``gtui ls`` <= 0.4 s on 10 containers.

Usage: ``python benchmarks/dashboard_cost.py [--seconds 60] [--repeats 3]``
(needs Docker, the test images, and ``pip install pyte``).
"""

from __future__ import annotations

import argparse
import compileall
import fcntl
import os
import pty
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import httpx
import pyte
from docker.models.containers import Container

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._support import GUNICORN_LATEST, free_port, owner_labels  # noqa: E402

COLUMNS, ROWS = 80, 24
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Run:
    first_frame_s: float | None
    # CPU of gtui (all threads) up to that frame: less at the mercy of the
    # machine's load than the wall time.
    first_frame_cpu_s: float | None
    # CPU of its children reaped by then (gtui's first-frame child), apart.
    first_frame_children_cpu_s: float | None
    cpu_s_per_s: float
    bytes_per_s: float


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def children_cpu_seconds(pid: int) -> float:
    """CPU of ``pid``'s children that it has waited for (cutime + cstime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / CLOCK_TICKS


def spawn_on_pty(argv: list[str], env: dict[str, str] | None = None) -> tuple[int, int]:
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update(env or {})
        os.environ["TERM"] = "xterm-256color"
        # As an installed gtui runs: from bytecode (see main()).
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["COLUMNS"], os.environ["LINES"] = str(COLUMNS), str(ROWS)
        os.execvp(argv[0], argv)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    return pid, fd


def read_available(fd: int, timeout_s: float) -> bytes:
    ready, _, _ = select.select([fd], [], [], timeout_s)
    if not ready:
        return b""
    try:
        return os.read(fd, 65536)
    except OSError:
        return b""


def full_frame(screen: pyte.Screen, worker_pids: list[str]) -> bool:
    lines = screen.display
    for pid in worker_pids:
        row = next((line for line in lines if line.strip().startswith(pid)), None)
        if row is None or "n/a" in row.split()[3:4]:
            return False
    return True


def measure(
    argv: list[str],
    seconds: float,
    worker_pids: list[str] | None,
    env: dict[str, str] | None = None,
) -> Run:
    screen = pyte.Screen(COLUMNS, ROWS)
    stream = pyte.ByteStream(screen)
    started = time.monotonic()
    pid, fd = spawn_on_pty(argv, env)
    first_frame: float | None = None
    first_frame_cpu: float | None = None
    first_frame_children_cpu: float | None = None
    warmup_end = started + 5.0
    measured_bytes = 0
    cpu_start = None
    window_start = 0.0
    try:
        while time.monotonic() < warmup_end + seconds:
            chunk = read_available(fd, 0.2)
            now = time.monotonic()
            if chunk:
                stream.feed(chunk)
                if now >= warmup_end:
                    measured_bytes += len(chunk)
            if worker_pids and first_frame is None and full_frame(screen, worker_pids):
                first_frame = now - started
                first_frame_cpu = cpu_seconds(pid)
                first_frame_children_cpu = children_cpu_seconds(pid)
            if cpu_start is None and now >= warmup_end:
                cpu_start, window_start = cpu_seconds(pid), now
        cpu_end, window_end = cpu_seconds(pid), time.monotonic()
    finally:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            read_available(fd, 0.1)
            if os.waitpid(pid, os.WNOHANG)[0]:
                break
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    elapsed = window_end - window_start
    assert cpu_start is not None
    return Run(
        first_frame,
        first_frame_cpu,
        first_frame_children_cpu,
        (cpu_end - cpu_start) / elapsed,
        measured_bytes / elapsed,
    )


def wall_times(argv: list[str], rounds: int, env: dict[str, str] | None = None) -> list[float]:
    """Wall time of ``argv`` run to its end, ``rounds`` times."""
    times = []
    for _ in range(rounds):
        started = time.monotonic()
        subprocess.run(
            argv,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
        times.append(time.monotonic() - started)
    return times


def start_container(client: docker.DockerClient, name: str, workers: int) -> tuple[Container, int]:
    port = free_port()
    container = client.containers.run(
        GUNICORN_LATEST,
        ["gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}", "app:app"],
        name=name,
        detach=True,
        network_mode="host",
        labels=owner_labels(),
    )
    return container, port


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--baseline-root",
        type=Path,
        help="also measure the gtui of this source tree (first on sys.path; e.g. main's, "
        "from git archive), in the same rounds",
    )
    args = parser.parse_args()
    gtui = shutil.which("gtui") or str(Path(sys.executable).parent / "gtui")
    baseline: list[str] | None = None
    baseline_env: dict[str, str] = {}
    if args.baseline_root is not None:
        root = args.baseline_root.resolve()
        compileall.compile_dir(str(root / "gunicorn_tui"), quiet=1)
        # The tree goes first on sys.path (not PYTHONPATH, behind which
        # ``python -m`` puts the working directory: this repository).
        baseline = [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(root)!r}); "
            "from gunicorn_tui.cli.main import main; sys.exit(main())",
        ]
    # pip compiles bytecode when it installs gtui; an editable install in a
    # shell with PYTHONDONTWRITEBYTECODE=1 would recompile every module of
    # ours at each start instead (~0.1 s more to the first frame).
    compileall.compile_dir(str(ROOT / "gunicorn_tui"), quiet=1)
    client = docker.from_env()
    name = f"gtui-bench-dash-{os.getpid()}"
    container, port = start_container(client, name, 8)
    extra: list[Container] = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        worker_pids: list[str] = []
        while time.monotonic() < deadline + 30 and len(worker_pids) < 8:
            top = container.top()
            worker_pids = [row[1] for row in top["Processes"] if "worker" in row[-1]]
            time.sleep(0.5)
        assert len(worker_pids) == 8, worker_pids
        print(f"load average at start: {os.getloadavg()}")
        gtui_runs: list[Run] = []
        baseline_runs: list[Run] = []
        for _ in range(args.repeats):
            gtui_runs.append(measure([gtui, name], args.seconds, worker_pids))
            if baseline is not None:
                baseline_runs.append(
                    measure([*baseline, name], args.seconds, worker_pids, baseline_env)
                )
        top_runs = [
            measure(["top", "-b", "-d", "1"], args.seconds, None) for _ in range(args.repeats)
        ]
        for number in range(9):
            extra.append(start_container(client, f"{name}-ls{number}", 2)[0])
        names = [name] + [f"{name}-ls{number}" for number in range(9)]
        ls_argv = [gtui, "ls", *names]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            listed = subprocess.run(ls_argv, capture_output=True, text=True).stdout
            if all(n in listed for n in names) and listed.count("gunicorn") >= 10:
                break
            time.sleep(1)
        scale: dict[str, list[float]] = {"python -c pass": [], "docker ps": [], "gtui ls": []}
        if baseline is not None:
            scale["baseline gtui ls"] = []
        for _ in range(args.repeats * 5):
            scale["python -c pass"] += wall_times([sys.executable, "-c", "pass"], 1)
            scale["docker ps"] += wall_times(["docker", "ps"], 1)
            scale["gtui ls"] += wall_times(ls_argv, 1)
            if baseline is not None:
                scale["baseline gtui ls"] += wall_times([*baseline, *ls_argv[1:]], 1, baseline_env)
        print(f"load average at end:   {os.getloadavg()}")
    finally:
        container.remove(force=True)
        for other in extra:
            other.remove(force=True)

    def med(values: list[float]) -> float:
        return statistics.median(values)

    first = [r.first_frame_s for r in gtui_runs if r.first_frame_s is not None]

    def first_cpu(runs: list[Run]) -> list[float]:
        return [r.first_frame_cpu_s for r in runs if r.first_frame_cpu_s is not None]

    def children_cpu(runs: list[Run]) -> float:
        values = [r.first_frame_children_cpu_s for r in runs]
        return med([v for v in values if v is not None] or [0.0])

    gtui_cpu = med([r.cpu_s_per_s for r in gtui_runs])
    top_cpu = med([r.cpu_s_per_s for r in top_runs])
    print(f"\n{args.repeats} runs of {args.seconds:g}s each on an {COLUMNS}x{ROWS} pty, medians:")
    print(f"{'':28}{'cpu s/s':>10}{'% core':>9}{'bytes/s':>10}")
    print(
        f"{'gtui (1 container, 8 wkr)':28}{gtui_cpu:>10.4f}{gtui_cpu * 100:>8.2f}%"
        f"{med([r.bytes_per_s for r in gtui_runs]):>10.0f}"
    )
    if baseline_runs:
        base_cpu = med([r.cpu_s_per_s for r in baseline_runs])
        print(
            f"{'baseline tree (same runs)':28}{base_cpu:>10.4f}{base_cpu * 100:>8.2f}%"
            f"{med([r.bytes_per_s for r in baseline_runs]):>10.0f}"
        )
        base_first = [r.first_frame_s for r in baseline_runs if r.first_frame_s is not None]
        if base_first:
            print(
                f"{'':28}first full frame median {med(base_first):.2f}s "
                f"(runs: {', '.join(f'{v:.2f}' for v in base_first)}), "
                f"CPU to it median {med(first_cpu(baseline_runs)):.2f}s "
                f"(+ reaped children {children_cpu(baseline_runs):.2f}s)"
            )
    print(
        f"{'top -b -d 1 (baseline)':28}{top_cpu:>10.4f}{top_cpu * 100:>8.2f}%"
        f"{med([r.bytes_per_s for r in top_runs]):>10.0f}"
    )
    if top_cpu > 0:
        print(f"ratio gtui/top cpu: {gtui_cpu / top_cpu:.2f}")
    gtui_bytes = med([r.bytes_per_s for r in gtui_runs])
    print(f"target <= 1% of one core: {'pass' if gtui_cpu <= 0.01 else 'FAIL'}")
    print(f"target <= 4 KB/s at {COLUMNS}x{ROWS}: {'pass' if gtui_bytes <= 4000 else 'FAIL'}")
    if first:
        frame = med(first)
        print(
            f"first full frame: median {frame:.2f}s (runs: "
            f"{', '.join(f'{v:.2f}' for v in first)}); target <= 0.5 s: "
            f"{'pass' if frame <= 0.5 else 'FAIL'}; CPU to it median "
            f"{med(first_cpu(gtui_runs)):.2f}s (+ reaped children, the first-frame "
            f"child: {children_cpu(gtui_runs):.2f}s)"
        )
    else:
        print("first full frame: never seen")
    print(f"\nwall time, medians of {args.repeats * 5} (10 containers running):")
    for label, times in scale.items():
        print(f"  {label:<16}{med(times):>7.3f} s  (min {min(times):.3f}, max {max(times):.3f})")
    ls_time = med(scale["gtui ls"])
    print(
        f"gtui ls / python -c pass: {ls_time / med(scale['python -c pass']):.1f}; "
        f"gtui ls / docker ps: {ls_time / med(scale['docker ps']):.1f}; "
        f"target gtui ls <= 0.4 s: {'pass' if ls_time <= 0.4 else 'FAIL'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
