"""Scale: change the worker count now, through the control socket or TTIN/TTOU."""

from __future__ import annotations

from gunicorn_tui.access.files import expect_content
from gunicorn_tui.control.planning.facts import ENV_CMD_ARGS, RetuneFacts
from gunicorn_tui.control.planning.managed_config import (
    managed_settings,
    render_managed,
)
from gunicorn_tui.control.planning.plan import (
    ActionKind,
    PlanStep,
    RetunePlan,
    RevertSpec,
    Strategy,
    WaitServing,
)
from gunicorn_tui.control.planning.requests import (
    NO_CONSENT,
    Consent,
    ScaleRequest,
)
from gunicorn_tui.control.planning.running_config import (
    current_workers,
)
from gunicorn_tui.control.planning.strategy_common import (
    SERVE_DEADLINE_S,
    control_action,
    file_refusal,
    file_write,
    graceful_s,
    mount_notes,
    probe_url,
    signal_action,
)
from gunicorn_tui.control.planning.strategy_context import StrategyContext, StrategyResult
from gunicorn_tui.control.planning.validation import MAX_WORKERS
from gunicorn_tui.model.instances import ConfigSource, InstanceSample


def plan_scale(
    sample: InstanceSample,
    facts: RetuneFacts,
    request: ScaleRequest,
    action: ActionKind = ActionKind.SCALE,
    consent: Consent = NO_CONSENT,
) -> RetunePlan:
    """Add or remove workers now: control socket, else TTIN/TTOU."""
    current = current_workers(sample)
    wanted = request.target(current)
    context = StrategyContext(
        sample,
        facts,
        action,
        changes={"workers": wanted},
        before={"workers": current},
        after={"workers": wanted},
        consent=consent,
    )
    return scale_plan(context, str(request)).to_plan(context)


def scale_plan(context: StrategyContext, asked: str) -> StrategyResult:
    """The scale to ``context.after["workers"]``; ``asked`` is the request in words."""
    sample, facts, consent = context.sample, context.facts, context.consent
    current = current_workers(sample)
    wanted = context.after["workers"]
    assert isinstance(wanted, int)
    if wanted < 1:
        return StrategyResult.refused(f"{asked} would leave {wanted} workers: at least 1 is needed")
    if wanted > MAX_WORKERS:
        return StrategyResult.refused(f"{wanted} workers is more than gtui allows ({MAX_WORKERS})")
    if wanted == current:
        return StrategyResult.refused(f"the server already runs {current} workers")
    delta = wanted - current
    steps: list[PlanStep] = []
    notes: list[str] = []
    verb = "add" if delta > 0 else "remove"
    control = control_action(facts, f"worker {verb} {abs(delta)}")
    strategy: Strategy
    if control is not None:
        strategy = Strategy.CONTROL_SOCKET
        steps.append(PlanStep(f"{verb} {abs(delta)} worker(s) through the control socket", control))
    else:
        step = 1 if delta > 0 else -1
        counts = tuple(current + step * (i + 1) for i in range(abs(delta)))
        signal = signal_action(facts, "TTIN" if delta > 0 else "TTOU", abs(delta), counts)
        if signal is None:
            return StrategyResult.refused(
                "no control socket, and the master cannot be signalled (not PID 1 of its "
                "container on a remote daemon)",
            )
        strategy = Strategy.SIGNALS
        steps.append(
            PlanStep(
                f"send {'TTIN' if delta > 0 else 'TTOU'} {abs(delta)} time(s): "
                f"{verb} one worker per signal",
                signal,
            )
        )
    layer = facts.layer("workers")
    pinned = layer is ConfigSource.COMMAND_LINE or facts.env_declares.get("workers") == ENV_CMD_ARGS
    file = facts.config_file
    why_not_file = file_refusal(facts, consent)
    if (
        file.managed
        and file.path is not None
        and not pinned
        and file.content is not None
        and why_not_file is None
    ):
        settings = managed_settings(file.content)
        settings["workers"] = wanted
        steps.append(
            PlanStep(
                f"keep {wanted} workers across reloads: update gtui's config file {file.path}",
                file_write(
                    facts, file.path, render_managed(settings), expect_content(file.content)
                ),
            )
        )
        notes.extend(mount_notes(facts, consent))
    else:
        configured = facts.static_values.get("workers")
        notes.append(
            f"not kept across a reload: HUP returns to the configured {configured} worker(s) "
            f"({layer.value}); use Retune to change the configured count"
        )
    steps.append(
        PlanStep(
            f"wait until {wanted} workers run",
            WaitServing(wanted, probe_url(sample, facts), graceful_s(sample) + SERVE_DEADLINE_S),
            changes_service=False,
        )
    )
    return context.plan(
        strategy, steps, notes, RevertSpec(settings=dict(context.before), workers=current)
    )
