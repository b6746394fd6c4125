"""The load of the commands that measure under one (``compare``, ``ab``,
``sweep``): a profile by name or file, aimed at a URL or the instance's bind."""

from __future__ import annotations

from gunicorn_tui.cli.exit_codes import EXIT_USAGE, CliError
from gunicorn_tui.load.profile import LoadProfile, ProfileError, load_profile_or_builtin
from gunicorn_tui.load.target import LoadTarget, TargetError, target_for_sample
from gunicorn_tui.model.instances import InstanceSample


def profile_named(name: str, duration_s: float | None = None) -> LoadProfile:
    """The profile ``name`` (a file or a built-in), bounded by ``duration_s``
    when given; a bad one is a usage error."""
    overrides: dict[str, object] = {}
    if duration_s is not None:
        # The measurement bounds the run; the profile's count bound still holds.
        overrides["duration_s"] = duration_s
    try:
        return load_profile_or_builtin(name, overrides=overrides)
    except ProfileError as error:
        raise CliError(str(error), EXIT_USAGE) from error


def load_target_for(profile: LoadProfile, url: str | None, sample: InstanceSample) -> LoadTarget:
    """Where the load goes: ``url``, else the profile's base URL, else the bind."""
    try:
        return target_for_sample(sample, override_url=url, profile_base_url=profile.base_url)
    except TargetError as error:
        raise CliError(str(error), EXIT_USAGE) from error
