"""The built-in load driver: bounded, repeatable load with honest latencies.

Headless: no textual or rich here. Typical use::

    profile = load_profile_or_builtin("mixed", overrides={"duration_s": 30})
    target = resolve_target(profile_base_url=profile.base_url, bind="0.0.0.0:8000")
    run = LoadRun(profile, target, on_second=print).start()
    ...
    summary = run.join()
"""

from gunicorn_tui.load.driver import LoadRun, LoadRunError, run_load
from gunicorn_tui.load.outcome import ErrorKind
from gunicorn_tui.load.profile import (
    LoadProfile,
    ProfileError,
    RequestSpec,
    RunMode,
    builtin_profile_names,
    load_profile,
    load_profile_or_builtin,
    parse_profile_text,
)
from gunicorn_tui.load.summary import (
    EndpointSummary,
    ErrorCounts,
    LatencySummary,
    RunSummary,
    SecondSummary,
    StopReason,
)
from gunicorn_tui.load.target import LoadTarget, TargetError, resolve_target, target_from_bind

__all__ = [
    "EndpointSummary",
    "ErrorCounts",
    "ErrorKind",
    "LatencySummary",
    "LoadProfile",
    "LoadRun",
    "LoadRunError",
    "LoadTarget",
    "ProfileError",
    "RequestSpec",
    "RunMode",
    "RunSummary",
    "SecondSummary",
    "StopReason",
    "TargetError",
    "builtin_profile_names",
    "load_profile",
    "load_profile_or_builtin",
    "parse_profile_text",
    "resolve_target",
    "run_load",
    "target_from_bind",
]
