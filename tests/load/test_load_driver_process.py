"""The driver in a process of its own: what the caller sees when the child
dies, stops answering, or the target never answers; and the same run on
every client stack and in a thread.

Real child processes, real signals, real servers on 127.0.0.1; every wait
is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from gunicorn_tui.load import cpu_yield, driver
from gunicorn_tui.load.client_stack import PURE_PYTHON, ClientStack, best_stack
from gunicorn_tui.load.driver import LoadRun, LoadRunError, run_load
from gunicorn_tui.load.driver_process import FrameBuffer, encode_frame
from gunicorn_tui.load.profile import LoadProfile, parse_profile_text
from gunicorn_tui.load.summary import SecondSummary, StopReason
from gunicorn_tui.load.target import LoadTarget
from tests.load.load_servers import LoadGunicorn, Reply, ScriptedServer


def _profile(run: str, path: str = "/fast") -> LoadProfile:
    return parse_profile_text(f'[run]\n{run}\n[[request]]\npath = "{path}"\n')


def _wait_for(condition: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


def test_the_run_happens_in_a_child_process_and_reports_its_stack(
    load_gunicorn: LoadGunicorn,
) -> None:
    seconds: list[SecondSummary] = []
    run = LoadRun(
        _profile("rate_rps = 50\nduration_s = 1.5"),
        LoadTarget(load_gunicorn.url),
        on_second=seconds.append,
    ).start()
    assert run.wait_started(15)
    assert run.child_pid is not None and run.child_pid != os.getpid()
    child = psutil.Process(run.child_pid)
    assert child.ppid() == os.getpid()
    summary = run.join(15)
    assert summary is not None
    assert summary.completed == 75
    # The clock the caller was told about is the run's own.
    assert run.started_at == summary.started_at
    assert summary.client_stack == best_stack().label == "uvloop + httptools"
    assert [s.second for s in seconds] == list(range(len(seconds)))
    assert sum(s.completed for s in seconds) == 75
    assert not psutil.pid_exists(child.pid) or child.status() == psutil.STATUS_ZOMBIE


@pytest.mark.parametrize(
    ("isolation", "stack"),
    [
        ("process", PURE_PYTHON),
        ("thread", best_stack()),
        ("thread", PURE_PYTHON),
        ("process", ClientStack("asyncio", "httptools")),
    ],
    ids=["process-pure-python", "thread-fast", "thread-pure-python", "process-mixed"],
)
def test_every_stack_and_isolation_counts_the_same(
    isolation: driver.Isolation, stack: ClientStack, load_gunicorn: LoadGunicorn
) -> None:
    profile = _profile("mode = 'closed'\nconcurrency = 4\nmax_requests = 200", "/status/404")
    summary = run_load(profile, LoadTarget(load_gunicorn.url), isolation=isolation, stack=stack)
    assert (summary.sent, summary.completed) == (200, 200)
    assert summary.errors.http_4xx == 200
    assert summary.status_counts == {404: 200}
    assert summary.client_stack == stack.label
    assert summary.client_cpu_s > 0


def test_wait_started_returns_when_a_run_fails_before_its_clock_starts() -> None:
    # A target the driver cannot even prepare requests for: no clock ever starts.
    run = LoadRun(_profile("rate_rps = 5\nduration_s = 1"), LoadTarget("ftp://127.0.0.1:1")).start()
    assert run.wait_started(15) is False
    with pytest.raises(LoadRunError):
        run.join(15)


def test_a_child_killed_mid_run_is_reported_as_such_without_a_hang(
    load_gunicorn: LoadGunicorn,
) -> None:
    seconds: list[SecondSummary] = []
    run = LoadRun(
        _profile("rate_rps = 20\nduration_s = 30"),
        LoadTarget(load_gunicorn.url),
        on_second=seconds.append,
    ).start()
    _wait_for(lambda: len(seconds) >= 1, 15)
    assert run.child_pid is not None
    os.kill(run.child_pid, signal.SIGKILL)
    started = time.monotonic()
    with pytest.raises(LoadRunError, match=r"died mid-run \(killed by SIGKILL\); \d+ seconds"):
        run.join(10)
    assert time.monotonic() - started < 5
    assert not run.running


def test_a_child_that_stops_answering_is_killed_and_reported(
    load_gunicorn: LoadGunicorn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(driver, "_SILENCE_LIMIT_S", 1.5)
    seconds: list[SecondSummary] = []
    run = LoadRun(
        _profile("rate_rps = 20\nduration_s = 30"),
        LoadTarget(load_gunicorn.url),
        on_second=seconds.append,
    ).start()
    _wait_for(lambda: len(seconds) >= 1, 15)
    assert run.child_pid is not None
    child = psutil.Process(run.child_pid)
    os.kill(run.child_pid, signal.SIGSTOP)
    started = time.monotonic()
    with pytest.raises(LoadRunError, match=r"stopped answering .* and was killed"):
        run.join(10)
    assert time.monotonic() - started < 5
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE


def test_a_stop_reaches_the_child_and_the_summary_still_arrives(
    load_gunicorn: LoadGunicorn,
) -> None:
    stop = threading.Event()
    run = LoadRun(
        _profile("rate_rps = 20\nduration_s = 60"), LoadTarget(load_gunicorn.url), stop_event=stop
    ).start()
    time.sleep(1.5)
    stop.set()
    summary = run.join(5)
    assert summary is not None
    assert summary.stop_reason is StopReason.STOPPED
    assert summary.elapsed_s < 5


def test_a_sigint_to_the_process_group_leaves_the_stop_to_the_parent(
    load_gunicorn: LoadGunicorn,
) -> None:
    # Ctrl-C in a terminal reaches the child too; gtui load then stops the
    # run itself and still wants its summary.
    run = LoadRun(_profile("rate_rps = 20\nduration_s = 2"), LoadTarget(load_gunicorn.url)).start()
    _wait_for(lambda: run.child_pid is not None, 5)
    time.sleep(1.0)
    assert run.child_pid is not None
    os.kill(run.child_pid, signal.SIGINT)
    summary = run.join(15)
    assert summary is not None
    assert summary.stop_reason is StopReason.DURATION
    assert summary.completed == 40


def test_a_target_that_accepts_and_never_answers_is_bounded_and_counted() -> None:
    server = ScriptedServer(replies=(Reply(b""),) * 50).start()
    try:
        profile = _profile("rate_rps = 10\nduration_s = 1\ntimeout_s = 0.5", "/a")
        started = time.monotonic()
        summary = run_load(profile, LoadTarget(server.url))
        took = time.monotonic() - started
    finally:
        server.stop()
    assert summary.sent == 10
    assert summary.errors.timeout == 10
    assert summary.completed == 0
    assert "no request got a response" in summary.warnings
    # 1 s of sends, the last one's 0.5 s timeout, start-up and warm-up.
    assert took < 1.0 + 0.5 + 6.0


def test_frames_survive_any_split_and_refuse_a_stream_out_of_step() -> None:
    stream = encode_frame(("second", 1)) + encode_frame(("done", {"a": 2}))
    buffer = FrameBuffer()
    got = []
    for i in range(len(stream)):
        got.extend(buffer.feed(stream[i : i + 1]))
    assert got == [("second", 1), ("done", {"a": 2})]
    assert buffer.pending_bytes == 0
    with pytest.raises(ValueError, match="out of step"):
        FrameBuffer().feed(b"\xff\xff\xff\xff" + b"x" * 10)


def _nice(tid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, tid)


def _policy(tid: int) -> int:
    return os.sched_getscheduler(tid)


@pytest.mark.skipif(os.geteuid() != 0, reason="raising a thread's priority back needs root")
def test_the_callers_threads_yield_the_cpu_during_a_run_and_get_it_back(
    load_gunicorn: LoadGunicorn,
) -> None:
    main_tid = threading.get_native_id()
    assert _nice(main_tid) == 0
    release = threading.Event()
    born: list[int] = []

    def during_the_run() -> None:
        born.append(threading.get_native_id())
        release.wait(30)

    run = LoadRun(_profile("rate_rps = 40\nduration_s = 3"), LoadTarget(load_gunicorn.url))
    run.start()
    assert run.wait_started(15) and run.child_pid is not None
    late = threading.Thread(target=during_the_run, daemon=True)
    late.start()
    _wait_for(lambda: born, 5)
    supervisor = run._thread.native_id
    assert supervisor is not None
    try:
        assert run.yielded_cpu
        assert _nice(main_tid) == 10 and _nice(born[0]) == 10  # a thread born meanwhile too
        assert _nice(supervisor) == 0
        assert psutil.Process(run.child_pid).nice() == 0  # the driver itself keeps its share
        assert _policy(main_tid) == os.SCHED_OTHER
        assert run.join(15) is not None
        assert _nice(main_tid) == 0 and _nice(born[0]) == 0
    finally:
        release.set()
        late.join(5)

    untouched = LoadRun(
        _profile("rate_rps = 40\nduration_s = 1"), LoadTarget(load_gunicorn.url), yield_cpu=False
    ).start()
    assert untouched.wait_started(15)
    assert _nice(main_tid) == 0 and not untouched.yielded_cpu
    assert untouched.join(15) is not None


@pytest.mark.skipif(os.geteuid() != 0, reason="leaving SCHED_IDLE needs root here")
def test_under_sched_idle_the_threads_get_their_policy_back_after_the_run(
    load_gunicorn: LoadGunicorn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cpu_yield, "YIELD_MODE", "idle")
    main_tid = threading.get_native_id()
    assert _policy(main_tid) == os.SCHED_OTHER
    release = threading.Event()
    born: list[int] = []

    def during_the_run() -> None:
        born.append(threading.get_native_id())
        release.wait(30)

    run = LoadRun(_profile("rate_rps = 40\nduration_s = 3"), LoadTarget(load_gunicorn.url))
    run.start()
    assert run.wait_started(15) and run.child_pid is not None
    late = threading.Thread(target=during_the_run, daemon=True)
    late.start()
    _wait_for(lambda: born, 5)
    supervisor = run._thread.native_id
    assert supervisor is not None
    try:
        assert run.yielded_cpu
        # A thread born meanwhile inherits the policy, and is put back too.
        assert _policy(main_tid) == os.SCHED_IDLE and _policy(born[0]) == os.SCHED_IDLE
        assert _policy(supervisor) == os.SCHED_OTHER
        assert _policy(run.child_pid) == os.SCHED_OTHER  # the driver keeps its share
        assert run.join(15) is not None
        assert _policy(main_tid) == os.SCHED_OTHER and _policy(born[0]) == os.SCHED_OTHER
        assert _nice(main_tid) == 0 and _nice(born[0]) == 0
    finally:
        release.set()
        late.join(5)


# Run as another user in a fresh interpreter: lower, report, restore, report.
_AS_USER = r"""
import json, os, resource, sys, threading
from gunicorn_tui.load import cpu_yield  # imported first: the files are root's
cpu_yield.YIELD_MODE = sys.argv[2]
limit = int(sys.argv[1])
if limit:
    try:
        resource.setrlimit(resource.RLIMIT_NICE, (limit, limit))
    except (ValueError, OSError) as error:  # a container without CAP_SYS_RESOURCE
        print(json.dumps({"refused": str(error)}))
        sys.exit(0)
os.setgid(65534)
os.setuid(65534)
tid = threading.get_native_id()
def now():
    return [os.sched_getscheduler(tid), os.getpriority(os.PRIO_PROCESS, tid)]
seen = {"before": now()}
holder = cpu_yield.CpuYield()
seen["began"] = holder.begin()
seen["during"] = now()
holder.end()
seen["after"] = now()
print(json.dumps(seen))
"""


def _as_nobody(rlimit_nice: int, mode: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _AS_USER, str(rlimit_nice), mode],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


OTHER, IDLE = os.SCHED_OTHER, os.SCHED_IDLE


@pytest.mark.parametrize("mode", ["nice", "idle"])
@pytest.mark.skipif(os.geteuid() != 0, reason="switches to another user")
def test_without_the_right_to_get_back_the_threads_are_left_alone(mode: str) -> None:
    # Not root and RLIMIT_NICE 0: from nice 10 or out of SCHED_IDLE there is
    # no way back, so nothing is lowered.
    seen = _as_nobody(0, mode)
    assert seen == {
        "before": [OTHER, 0],
        "began": False,
        "during": [OTHER, 0],
        "after": [OTHER, 0],
    }


@pytest.mark.parametrize(("mode", "lowered"), [("nice", [OTHER, 10]), ("idle", [IDLE, 0])])
@pytest.mark.skipif(os.geteuid() != 0, reason="switches to another user")
def test_a_user_with_rlimit_nice_room_yields_and_gets_the_priority_back(
    mode: str, lowered: list[int]
) -> None:
    # RLIMIT_NICE 20 allows nice down to 0: the thread gets its priority back.
    seen = _as_nobody(20, mode)
    if "refused" in seen:
        pytest.skip(f"RLIMIT_NICE cannot be raised here: {seen['refused']}")
    assert seen == {
        "before": [OTHER, 0],
        "began": True,
        "during": lowered,
        "after": [OTHER, 0],
    }
