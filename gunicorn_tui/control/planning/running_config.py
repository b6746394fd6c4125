"""The configuration a master runs now, as the planner must judge it.

Gunicorn's ``show config`` reports the ``workers`` setting, which a count
changed with ``worker add``/``worker remove`` (or TTIN/TTOU) leaves at the
old value: the master's own target is what runs. Everything that compares
a request with "what runs now" (retune, revert, the Retune form, sweeps)
reads it from here, never from ``sample.config`` directly.
"""

from __future__ import annotations

import dataclasses

from gunicorn_tui.model.instances import (
    ConfigSetting,
    ConfigSource,
    ConfigValue,
    GunicornConfig,
    InstanceSample,
)


def current_workers(sample: InstanceSample) -> int:
    """The worker count the master aims for now (TTIN/TTOU and ``worker add`` included).

    The master's target when the control socket reports one, else the
    workers seen; the configured count only when none are seen (booting).
    """
    if sample.workers_target is not None:
        return sample.workers_target
    if sample.workers:
        return len(sample.workers)
    configured = sample.config.workers
    return configured if configured is not None else 0


def running_config(sample: InstanceSample) -> GunicornConfig:
    """``sample.config`` with ``workers`` at the count the master runs now.

    The setting keeps where it is declared (what a HUP returns to is in the
    facts' static values, not here); its source says the count was observed.
    """
    setting = sample.config.get("workers")
    if sample.workers_target is None and not sample.workers:
        return sample.config
    running = current_workers(sample)
    if setting.value == running:
        return sample.config
    settings = dict(sample.config.settings)
    source = ConfigSource.CONTROL_SOCKET if sample.workers_target is not None else setting.source
    settings["workers"] = ConfigSetting(running, source, setting.declared_in)
    return dataclasses.replace(sample.config, settings=settings)


def running_value(sample: InstanceSample, name: str) -> ConfigValue:
    """One setting's value as it runs now."""
    if name == "workers":
        return running_config(sample).value("workers")
    return sample.config.value(name)
