"""Switch a service between configurations through the control engine, for
interleaved rounds: only where the switch is cheap and clean (scaling
through signals or the control socket, a HUP reload). A change that needs
a re-create (or a host master's restart) cannot be undone between rounds:
:func:`interleavable` says so before anything runs, and the caller falls
back to one switch.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from gunicorn_tui.compare.epochs import EpochTracker
from gunicorn_tui.compare.interleave import SwitchFailed
from gunicorn_tui.compare.measurement import FrameSource
from gunicorn_tui.control.engine import ActionRefused, EngineUnavailable
from gunicorn_tui.control.planning.plan import RetunePlan, Strategy
from gunicorn_tui.control.planning.requests import RetuneRequest
from gunicorn_tui.control.planning.running_config import running_config
from gunicorn_tui.control.running.progress import ServiceStanding
from gunicorn_tui.control.service_engine import RetuneEngine
from gunicorn_tui.model.instances import ConfigValue, InstanceSample

# Strategies that restart nothing: the same master serves throughout.
CHEAP_STRATEGIES = frozenset(
    {Strategy.CONTROL_SOCKET, Strategy.SIGNALS, Strategy.RELOAD, Strategy.HUP_WITH_CONFIG}
)
_ALREADY = "the server already runs with these settings"
_WORKERS_WAIT_S = 30.0


def side_label(settings: Mapping[str, ConfigValue]) -> str:
    """``workers=2, threads=4``."""
    return ", ".join(f"{name}={value}" for name, value in settings.items())


def sides_of(sample: InstanceSample, request: RetuneRequest) -> tuple[dict[str, ConfigValue], ...]:
    """Side 0: the running values of the settings ``request`` names; side 1:
    the request's."""
    running = running_config(sample)
    after = request.changes()
    return ({name: running.value(name) for name in after}, dict(after))


def interleavable(plan: RetunePlan) -> str | None:
    """Why ``plan`` cannot be interleaved (None when it can)."""
    if not plan.ok:
        return plan.refusal or "refused"
    if plan.strategy not in CHEAP_STRATEGIES:
        strategy = plan.strategy.value if plan.strategy else "?"
        return f"the change needs a {strategy} step, which cannot be undone between rounds"
    return None


class EngineSwitcher:
    """Sides are settings; a switch is a retune to a side's settings.

    ``replicas``: a service's replica count (its engine a ServiceEngine):
    a side's ``workers`` is per replica, the service runs that many times it."""

    def __init__(
        self,
        engine: RetuneEngine,
        frames: FrameSource,
        tracker: EpochTracker,
        sides: Sequence[Mapping[str, ConfigValue]],
        names: Sequence[str] | None = None,
        replicas: int = 1,
    ) -> None:
        self.engine = engine
        self.frames = frames
        self.tracker = tracker
        self.sides = tuple(dict(side) for side in sides)
        self._names = tuple(names) if names is not None else tuple(map(side_label, self.sides))
        self.switches = 0
        self.replicas = replicas

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    def expected_workers(self, side: int) -> int | None:
        workers = self.sides[side].get("workers")
        return workers * self.replicas if isinstance(workers, int) else None

    def _sample(self) -> InstanceSample | None:
        frame = self.frames()
        self.tracker.observe_frame(frame)
        return self.tracker.select(frame)

    def plan(self, side: int) -> RetunePlan | str:
        """The plan to ``side`` from now, or why there is none."""
        sample = self._sample()
        if sample is None:
            return "the instance is not found"
        request = RetuneRequest.from_changes(dict(self.sides[side]))
        try:
            return self.engine.plan_retune(sample, request)
        except (ActionRefused, EngineUnavailable) as error:
            return str(error)

    def switch(self, side: int) -> str:
        plan = self.plan(side)
        # Refused before anything ran, or undone: the service runs what it ran.
        if isinstance(plan, str):
            raise SwitchFailed(plan, unchanged=True)
        if plan.refusal == _ALREADY:
            return "already running"
        why_not = interleavable(plan)
        if why_not is not None:
            raise SwitchFailed(why_not, unchanged=True)
        try:
            outcome = self.engine.execute(plan)
        except (ActionRefused, EngineUnavailable) as error:
            raise SwitchFailed(str(error), unchanged=True) from error
        if not outcome.ok:
            raise SwitchFailed(
                outcome.error or outcome.status.value,
                unchanged=outcome.standing is ServiceStanding.OLD,
            )
        self.switches += 1
        self._await_workers(self.expected_workers(side))
        return outcome.summary()

    def _await_workers(self, workers: int | None) -> None:
        """Until the service shows ``workers`` workers (a switch's new workers
        boot for a moment; measuring before would mix both sides)."""
        if workers is None:
            return
        deadline = time.monotonic() + _WORKERS_WAIT_S
        while time.monotonic() < deadline:
            sample = self._sample()
            if sample is not None and len(sample.workers) == workers:
                return
            time.sleep(0.25)
        raise SwitchFailed(f"the service did not reach {workers} workers in {_WORKERS_WAIT_S:g} s")
