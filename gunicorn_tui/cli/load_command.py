"""``gtui load``: a bounded load at what the user typed.

* ``gtui load http://host:8000/search?q=x``: GET that path and query, at
  ``--rate`` (10 req/s) for ``--duration`` (10 s), no ramp.
* ``gtui load web`` / ``pid:N``: the same at the instance's bind, path ``/``
  (``--path`` for others).
* ``--profile NAME|FILE``: a profile's mix instead; the URL's path, if any,
  is the prefix of the profile's paths. The options beat the profile's values.
* ``gtui load FILE.toml`` (a profile file as TARGET, as older profiles'
  comments said) is the same as ``--profile FILE.toml``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from gunicorn_tui.cli.exit_codes import EXIT_USAGE, CliError
from gunicorn_tui.cli.target_monitor import open_target_monitor, select_instance
from gunicorn_tui.discovery.reach import Reach, reach_of
from gunicorn_tui.load.cli import RunShape, profile_for_paths, profile_from, run_profile
from gunicorn_tui.load.profile import LoadProfile, ProfileError
from gunicorn_tui.load.target import LoadTarget, TargetError, bind_of, resolve_target


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def _split_url(url: str) -> tuple[str, str]:
    """``http://h:1/a/b?q`` -> (``http://h:1``, ``/a/b?q``)."""
    parts = urlsplit(url)
    if parts.fragment:
        raise CliError(f"{url}: a URL to load takes no #fragment", EXIT_USAGE)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return urlunsplit((parts.scheme, parts.netloc, "", "", "")), path


def _shape(args: argparse.Namespace) -> RunShape:
    return RunShape(
        rate_rps=args.rate,
        concurrency=args.concurrency,
        duration_s=args.duration,
        max_requests=args.requests,
        ramp_up_s=args.ramp_up,
        timeout_s=args.timeout,
        connections=args.connections,
        seed=args.seed,
        insecure=args.insecure,
    )


# A bind hidden by setproctitle comes from the control socket, which may
# answer a few samples later on a busy machine.
BIND_WAIT_S = 10.0


def _instance_reach(args: argparse.Namespace) -> Reach | None:
    """How the instance is reached (None while its bind is not known)."""
    monitor = open_target_monitor(args)
    try:
        sample = select_instance(monitor, args.target)
        bind = bind_of(sample)
        deadline = time.monotonic() + BIND_WAIT_S
        while bind is None and time.monotonic() < deadline:
            time.sleep(0.5)
            again = next((s for s in monitor.sample().instances if s.key == sample.key), None)
            if again is not None:
                sample = again
            bind = bind_of(again) if again is not None else None
        return reach_of(sample) if bind is not None else None
    finally:
        monitor.close()


def _plan(args: argparse.Namespace) -> tuple[LoadProfile, LoadTarget, tuple[str, ...]]:
    target_text: str | None = args.target
    profile_name: str | None = args.profile
    if (
        target_text
        and not profile_name
        and target_text.endswith(".toml")
        and Path(target_text).is_file()
    ):
        profile_name, target_text = target_text, None
    url = args.url
    url_path: str | None = None
    reach: Reach | None = None
    if target_text and _is_url(target_text):
        base, url_path = _split_url(target_text)
        url = url or base
    elif target_text:
        reach = _instance_reach(args)
        if reach is None and not url:
            raise CliError(
                f"{target_text}: its bind address is not known (command line hidden, no "
                "control socket): give the URL, e.g. gtui load http://127.0.0.1:8000/",
                EXIT_USAGE,
            )
    elif url:
        url, url_path = _split_url(url)
    paths = list(args.path or ())
    shape = _shape(args)
    notes: tuple[str, ...] = ()
    try:
        if profile_name:
            profile, notes = profile_from(profile_name, shape, paths)
            if url_path and url_path != "/":
                if "?" in url_path:
                    raise CliError(
                        "with --profile, the URL is a base: its requests carry their own "
                        f"paths and queries (drop ?{url_path.partition('?')[2]})",
                        EXIT_USAGE,
                    )
                url = (url or "") + url_path.rstrip("/")
        else:
            profile = profile_for_paths(paths or [url_path or "/"], shape)
        target = resolve_target(override_url=url, profile_base_url=profile.base_url, reach=reach)
    except (ProfileError, TargetError) as error:
        raise CliError(str(error), EXIT_USAGE) from error
    return profile, target, notes


def run_load(args: argparse.Namespace) -> int:
    """``gtui load [URL|TARGET]``: see the module docstring."""
    if args.target is None and not args.url and not args.profile:
        raise CliError("say where: a URL, a TARGET, --url, or a --profile with a base_url",
                       EXIT_USAGE)  # fmt: skip
    profile, target, notes = _plan(args)
    for note in notes:
        print(f"gtui load: note: {note}", file=sys.stderr)
    return run_profile(profile, target, json_output=args.json, quiet=args.quiet,
                    stdout=sys.stdout, stderr=sys.stderr)  # fmt: skip
