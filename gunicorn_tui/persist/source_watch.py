"""The dashboard's warning when a Compose container runs a config its
Compose file does not hold ("lost on next `compose up`").

Checked in a background thread, at most once per ``interval_s`` per instance
and again at once when its running settings change; the dashboard only
reads the last answer, so a slow check never holds a frame.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from gunicorn_tui.control.planning.facts import RetuneFacts
from gunicorn_tui.model.instances import ConfigValue, InstanceSample
from gunicorn_tui.persist.drift import running_settings

_log = logging.getLogger("gtui.persist")
CHECK_INTERVAL_S = 30.0


class SourceDriftWatch:
    """Keeps, per Compose instance, a one-line warning or None."""

    def __init__(
        self,
        facts_of: Callable[[InstanceSample], RetuneFacts],
        interval_s: float = CHECK_INTERVAL_S,
    ) -> None:
        self._facts_of = facts_of
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._warnings: dict[str, str | None] = {}
        self._checked: dict[str, tuple[float, tuple[tuple[str, ConfigValue], ...]]] = {}
        self._queue: dict[str, InstanceSample] = {}
        self._thread: threading.Thread | None = None

    def warning(self, key: str) -> str | None:
        with self._lock:
            return self._warnings.get(key)

    def observe(self, samples: Sequence[InstanceSample]) -> None:
        """Queue the Compose instances that are due for a check (never blocks)."""
        now = time.monotonic()
        with self._lock:
            for sample in samples:
                if sample.container is None or sample.container.compose is None:
                    continue
                running = tuple(running_settings(sample).items())
                last = self._checked.get(sample.key)
                if last is not None and last[1] == running and now - last[0] < self._interval_s:
                    continue
                self._checked[sample.key] = (now, running)
                self._queue[sample.key] = sample
            if self._queue and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(
                    target=self._run, name="gtui-source-drift", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    return
                key, sample = self._queue.popitem()
            self._check(key, sample)

    def _check(self, key: str, sample: InstanceSample) -> None:
        assert sample.container is not None and sample.container.compose is not None
        service = sample.container.compose.service_name
        # Imported here, in the check's thread: only Compose instances need it
        # (not the dashboard's first frame).
        from gunicorn_tui.persist.plan import PersistKind, plan_persist

        try:
            plan = plan_persist(sample, self._facts_of(sample), service)
        except Exception as error:  # a check is advice: never break the dashboard
            _log.info("source drift check of %s failed: %s", key, error)
            return
        warning: str | None = None
        if plan.kind is not PersistKind.IN_SYNC and plan.drift:
            names = ", ".join(d.name for d in plan.drift)
            warning = (
                f"{names} not in the Compose file: lost on next `compose up` "
                f"(gtui persist {service})"
            )
        with self._lock:
            self._warnings[key] = warning
