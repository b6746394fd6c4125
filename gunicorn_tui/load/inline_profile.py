"""A one-request load profile from three values (a rate or a number of
clients, and a path), for forms that do not want a profile file.

The values go through :func:`~gunicorn_tui.load.profile.parse_profile`, so
they meet the same limits as a file's; problems are reported with the
form's names for them, not the profile's fields.
"""

from __future__ import annotations

from gunicorn_tui.load.profile import LoadProfile, ProfileError, parse_profile

# A bound for the run; a measurement replaces it with its own duration.
_DURATION_S = 60.0
_FORM_NAMES = {"run.rate_rps": "rate", "run.concurrency": "concurrency", "request[0].path": "path"}


def _number(text: str, name: str, problems: list[str]) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        problems.append(f"{name}: {text!r} is not a number")
        return None


def inline_profile(rate_text: str, concurrency_text: str, path: str) -> LoadProfile:
    """GET ``path`` at ``rate_text`` requests per second (open loop), or from
    ``concurrency_text`` clients back to back (closed loop): exactly one of
    the two. Raises :class:`ProfileError` listing every problem."""
    problems: list[str] = []
    rate = _number(rate_text, "rate", problems)
    concurrency = _number(concurrency_text, "concurrency", problems)
    path = path.strip() or "/"
    if problems:
        raise ProfileError("load", problems)
    if (rate is None) == (concurrency is None):
        raise ProfileError("load", ["name either a rate (req/s) or a concurrency (clients)"])
    run: dict[str, object] = {"duration_s": _DURATION_S}
    if rate is not None:
        run.update(mode="open", rate_rps=rate)
        shape = f"{rate:g} req/s"
    else:
        assert concurrency is not None
        if not concurrency.is_integer():
            raise ProfileError("load", [f"concurrency: {concurrency:g} is not a whole number"])
        run.update(mode="closed", concurrency=int(concurrency))
        shape = f"{int(concurrency)} clients"
    try:
        return parse_profile(
            {"run": run, "request": [{"path": path}]}, source=f"GET {path} at {shape}"
        )
    except ProfileError as error:
        renamed = []
        for problem in error.problems:
            field, _, rest = problem.partition(":")
            renamed.append(f"{_FORM_NAMES.get(field, field)}:{rest}" if rest else problem)
        raise ProfileError("load", renamed) from None
