"""Wait until a server runs a configuration: workers up, settings read back, HTTP answers."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from gunicorn_tui.access.target import MasterView
from gunicorn_tui.control.planning.plan import WaitServing
from gunicorn_tui.control.planning.worker_classes import UnknownWorkerClass, resolve_worker_class
from gunicorn_tui.control.running.service_probe import http_answers
from gunicorn_tui.control.running.step_errors import StepError
from gunicorn_tui.model.instances import ConfigValue
from gunicorn_tui.settings.resolve import worker_class_from_repr

POLL_S = 0.1


def settings_mismatches(wanted: Mapping[str, ConfigValue], shown: Mapping[str, Any]) -> list[str]:
    """Settings whose value in ``show config`` differs from ``wanted``."""
    mismatches = []
    threads = shown.get("threads")
    for name, value in wanted.items():
        got = shown.get(name)
        if name == "worker_class":
            got = worker_class_from_repr(str(got))
            try:
                want = resolve_worker_class(str(value)).short
            except UnknownWorkerClass:
                want = str(value)
            if want == "sync" and isinstance(threads, int) and threads > 1:
                want = "gthread"
            if got != want:
                mismatches.append(f"worker_class is {got}, not {want}")
        elif got != value:
            mismatches.append(f"{name} is {got!r}, not {value!r}")
    return mismatches


def wait_until_serving(
    action: WaitServing,
    locate: Callable[[], MasterView | None],
    read_config: Callable[[MasterView], Mapping[str, Any] | None] | None,
    dead_reason: Callable[[], str | None],
    old_workers: frozenset[int] | None,
) -> str:
    """Poll until every condition of ``action`` holds; StepError after its deadline.

    ``old_workers`` are worker pids from before the change that must be gone.
    ``dead_reason`` returns why waiting is pointless (the container exited)
    so a crash is reported at once instead of after the deadline.
    """
    deadline = time.monotonic() + action.deadline_s
    started = time.monotonic()
    last = "nothing observed yet"
    while True:
        reason = dead_reason()
        if reason is not None:
            raise StepError(reason)
        view = locate()
        if view is None:
            last = "no Gunicorn master running yet"
        else:
            last = _unmet(action, view, read_config, old_workers) or ""
            if not last:
                return (
                    f"serving after {time.monotonic() - started:.2f} s: master {view.master_pid}, "
                    f"{len(view.worker_pids)} workers"
                )
        if time.monotonic() >= deadline:
            raise StepError(f"not serving the new config within {action.deadline_s:.0f} s: {last}")
        time.sleep(POLL_S)


def _unmet(
    action: WaitServing,
    view: MasterView,
    read_config: Callable[[MasterView], Mapping[str, Any] | None] | None,
    old_workers: frozenset[int] | None,
) -> str | None:
    count = len(view.worker_pids)
    if action.workers is not None and count != action.workers:
        return f"{count} workers running, {action.workers} wanted"
    if action.workers is None and count < 1:
        return "no worker running"
    if old_workers:
        # Pids, not start times: psutil's create times can be a second off the
        # wall clock (boot time has a one-second resolution).
        old = old_workers.intersection(view.worker_pids)
        if old:
            return f"{len(old)} worker(s) from before the change still running"
    if action.gone_worker_pid is not None and action.gone_worker_pid in view.worker_pids:
        return f"worker {action.gone_worker_pid} still running"
    if action.verify and read_config is not None:
        shown = read_config(view)
        if shown is None:
            return "control socket not answering yet"
        mismatches = settings_mismatches(action.verify, shown)
        if mismatches:
            return "; ".join(mismatches)
    if action.url is not None and not http_answers(action.url):
        return f"{action.url} does not answer"
    return None
