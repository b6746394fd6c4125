"""``gtui`` (the dashboard) and ``gtui demo``."""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from gunicorn_tui.cli.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError
from gunicorn_tui.cli.first_frame_child import FIRST_FRAME_AFTER_S, FirstFrameChild
from gunicorn_tui.cli.target_monitor import open_monitor, parse_statsd_address
from gunicorn_tui.monitor.monitor import Monitor, MonitorFrame

if TYPE_CHECKING:
    from gunicorn_tui.control.engine import ControlEngine
    from gunicorn_tui.recording.session_file import SessionRecorder
    from gunicorn_tui.sampling.local_instance import LaunchRecord
    from gunicorn_tui.ui.app import GtuiApp


def _check_refresh(refresh_s: float) -> None:
    if not 0.1 <= refresh_s <= 60:
        raise CliError("--refresh must be between 0.1 and 60 seconds", EXIT_USAGE)


@contextlib.contextmanager
def _exit_on_hangup(app: object) -> Iterator[None]:
    """SIGTERM and SIGHUP (an SSH session closing) end the app cleanly, so
    whatever it started is stopped by the callers' ``finally``."""

    def handler(signum: int, frame: FrameType | None) -> None:
        exit_app = getattr(app, "exit", None)
        if callable(exit_app):
            exit_app()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _engine(args: argparse.Namespace, monitor: Monitor) -> ControlEngine:
    """The control engine the dashboard's actions use, sharing the monitor's
    Docker connection (and its launched servers)."""
    from gunicorn_tui.cli.engine_hosts import (
        first_address,
        first_api_only,
        first_host,
        other_hosts,
        remote_gtuis,
    )
    from gunicorn_tui.control.engine import ControlEngine

    watcher = monitor.watcher
    return ControlEngine(
        read_only=bool(getattr(args, "read_only", False)),
        connect_docker=lambda: watcher.client if watcher is not None else None,
        launched=monitor.options.launched,
        api_only=first_api_only(monitor),
        host=first_host(monitor),
        other_hosts=other_hosts(monitor),
        docker_address=first_address(monitor),
        remote_gtuis=remote_gtuis(monitor),
    )


# How long the parent waits for the forked child's first frame before it
# samples in-process instead, and for the first paint before it opens its
# own monitor anyway.
CHILD_FRAME_WAIT_S = 5.0
PAINT_WAIT_S = 2.0


class _MonitorOpening:
    """Open the monitor and take its priming sample (CPU figures need two)
    in a thread, so the time to a full first frame is the longer of the
    UI's start and Docker's answers, not their sum. The first full frame
    (:attr:`first_frame`) is sampled by a forked child
    (:mod:`gunicorn_tui.cli.first_frame_child`), on another core than
    Textual's start; this process's own monitor is then opened and primed
    after the first paint (:meth:`painted`). Where no child can be forked,
    or it fails, the same thread samples the first frame in-process."""

    def __init__(self, args: argparse.Namespace, *, fork: bool = True) -> None:
        self._args = args
        self._monitor: Monitor | None = None
        self._error: BaseException | None = None
        self._opened = threading.Event()
        # Set when the app may be built: the first frame is there, or the
        # monitor is open (or failed to open).
        self._settled = threading.Event()
        self._painted = threading.Event()
        self._closed = False
        self._lock = threading.Lock()
        self._primed_at = 0.0
        # The app waits for it before it samples the monitor itself.
        self.first_frame: Future[MonitorFrame] = Future()
        # Forked before any thread starts (and before Textual is imported).
        self._child = FirstFrameChild.start(args) if fork else None
        # Whether the first frame came from the child.
        self.frame_from_child = False
        self._thread = threading.Thread(target=self._open, name="gtui-open", daemon=True)
        self._thread.start()

    def _open(self) -> None:
        if self._child is not None:
            frame = self._child.frame(CHILD_FRAME_WAIT_S)
            if frame is not None:
                self.frame_from_child = True
                self.first_frame.set_result(frame)
                self._settled.set()
                # Textual starts meanwhile: this process samples after it painted.
                self._painted.wait(PAINT_WAIT_S)
                if self._closed:  # quit before the first paint: nothing to open
                    self._error = CliError("the dashboard ended before its monitor opened")
                    self._opened.set()
                    return
        try:
            # docker-py (for the log streams) loads after the first frame.
            monitor = open_monitor(self._args, engine_client_delay_s=1.0)
            # A failure here shows again in the app's next sample, and is said there.
            with contextlib.suppress(Exception):
                monitor.sample()
            self._primed_at = time.monotonic()
            with self._lock:
                closed = self._closed
                if not closed:
                    self._monitor = monitor
            if closed:
                monitor.close()
                return
        except BaseException as error:  # re-raised where the CLI handles it
            self._error = error
            if not self.first_frame.done():
                self.first_frame.set_exception(error)
            return
        finally:
            self._opened.set()
            self._settled.set()
        if self.first_frame.done():
            return
        time.sleep(max(0.0, self._primed_at + FIRST_FRAME_AFTER_S - time.monotonic()))
        try:
            self.first_frame.set_result(monitor.sample())
        except BaseException as error:  # the app samples again, and says why
            self.first_frame.set_exception(error)

    def painted(self) -> None:
        """The first frame is on the screen: this process may open its monitor."""
        self._painted.set()

    def settle(self) -> None:
        """Wait until the app can start: the child primed its monitor (its
        targets are there; the UI starts while it samples the first frame),
        or else this process's monitor is open. Raises what opening it raised
        (a CliError) when there is no first frame to show."""
        child = self._child
        if child is not None:
            child.primed_or_ended.wait()
            if child.primed:
                return
        self._settled.wait()
        if self._error is not None and not self.frame_from_child:
            raise self._error

    def result(self) -> Monitor:
        """The opened monitor; raises what opening it raised (a CliError)."""
        self._opened.wait()
        if self._error is not None:
            raise self._error
        assert self._monitor is not None
        return self._monitor

    def statsd_address(self) -> tuple[str, int] | None:
        """The monitor's StatsD address once open; before, the one it is given."""
        monitor = self._monitor
        if monitor is not None:
            return monitor.statsd_address
        return parse_statsd_address(getattr(self._args, "statsd", None))

    def close(self) -> None:
        """Close the monitor, now or as soon as it is open."""
        if self._child is not None:
            self._child.abandon()
        with self._lock:
            self._closed = True
            monitor, self._monitor = self._monitor, None
        self._painted.set()
        if monitor is not None:
            monitor.close()


class _OpeningSource:
    """The dashboard's source while its monitor may still be opening: every
    call waits for the opened monitor. Its first sample is at least
    :data:`FIRST_FRAME_AFTER_S` after the priming one (a CPU interval)."""

    def __init__(self, opening: _MonitorOpening) -> None:
        self._opening = opening
        self._first = True

    def sample(self) -> MonitorFrame:
        monitor = self._opening.result()
        if self._first:
            self._first = False
            since = time.monotonic() - self._opening._primed_at
            time.sleep(max(0.0, FIRST_FRAME_AFTER_S - since))
        return monitor.sample()

    def close(self) -> None:
        self._opening.close()

    @property
    def statsd_address(self) -> tuple[str, int] | None:
        # Asked by a redraw: not waited for; until the monitor is open, where
        # it is told to listen.
        return self._opening.statsd_address()

    def add_launch(self, launch: LaunchRecord) -> None:
        self._opening.result().add_launch(launch)

    def request_rescan(self) -> None:
        self._opening.result().request_rescan()

    @property
    def playback(self) -> None:
        return None


def _export_dir(args: argparse.Namespace) -> Path | None:
    """``--export-dir``, refused up front when it names a file."""
    value = getattr(args, "export_dir", None)
    if not value:
        return None
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise CliError(f"--export-dir {value}: not a directory", EXIT_USAGE)
    return path


def theme_options(args: argparse.Namespace) -> dict[str, Any]:
    """The app's start theme (config file) and how a palette choice is kept."""
    config = getattr(args, "user_config", None)
    if config is None:
        return {}

    def keep(name: str) -> None:
        from gunicorn_tui.user_config.config_file import set_key

        set_key(config.path, "theme", name)

    return {"theme": getattr(args, "theme", None), "on_theme_change": keep}


def _recorder(args: argparse.Namespace) -> SessionRecorder | None:
    """The session recorder of ``--record FILE``, opened now."""
    if not getattr(args, "record", None):
        return None
    from gunicorn_tui.compare.epochs import DEFAULT_WARMUP_S
    from gunicorn_tui.recording.session_file import RecordingError, SessionRecorder

    try:
        return SessionRecorder(
            Path(args.record).expanduser(), refresh_s=args.refresh, warmup_s=DEFAULT_WARMUP_S
        )
    except RecordingError as error:
        raise CliError(str(error), EXIT_USAGE) from error


def run_replay(args: argparse.Namespace) -> int:
    """``gtui replay FILE``: the dashboard on a recording."""
    from gunicorn_tui.compare.epochs import EpochRegistry
    from gunicorn_tui.recording.playback import PlaybackSource
    from gunicorn_tui.recording.session_file import RecordingError, read_recording

    try:
        recording = read_recording(Path(args.file).expanduser())
    except RecordingError as error:
        raise CliError(str(error), EXIT_USAGE) from error
    if not recording.frames:
        raise CliError(f"{args.file}: the recording holds no frame", EXIT_FAILURE)
    given = next((s for s in args.settings if s.key == "refresh_s"), None)
    refresh = args.refresh if given is not None and given.source == "command line" else (
        recording.header.refresh_s)  # fmt: skip
    _check_refresh(refresh)
    registry = EpochRegistry(warmup_s=recording.header.warmup_s)
    from gunicorn_tui.ui.app import GtuiApp

    app = GtuiApp(
        PlaybackSource(recording, registry),
        refresh_s=refresh,
        subtitle=f"replay of {Path(args.file).name}",
        warmup_s=recording.header.warmup_s,
        export_dir=_export_dir(args),
        epochs=registry,
        primed=True,
        **theme_options(args),
    )
    with _exit_on_hangup(app):
        app.run()
    return EXIT_OK


def _after_paint(app: GtuiApp, callback: Callable[[], None]) -> None:
    app.call_after_refresh(callback)


def run_dashboard(args: argparse.Namespace) -> int:
    """Open the dashboard on the TARGETs (default: everything found)."""
    _check_refresh(args.refresh)
    recorder = _recorder(args)
    opening = _MonitorOpening(args)
    # Textual loads while the first frame is sampled.
    from gunicorn_tui.ui.app import GtuiApp

    opening.settle()

    subtitle = " ".join(args.targets) if args.targets else ""
    if args.read_only:
        subtitle = f"{subtitle} [read-only]".strip()
    app = GtuiApp(
        _OpeningSource(opening),
        refresh_s=args.refresh,
        subtitle=subtitle,
        # After the first paint: this process's monitor opens, and the
        # control engine is made (its code is not needed to draw it).
        on_first_frame=lambda _elapsed_s: _after_paint(app, opening.painted),
        engine_factory=lambda: _engine(args, opening.result()),
        primed=True,
        first_frame=opening.first_frame,
        export_dir=_export_dir(args),
        recorder=recorder,
        **theme_options(args),
    )
    try:
        with _exit_on_hangup(app):
            app.run()
    finally:
        opening.close()
    return EXIT_OK


def run_demo(args: argparse.Namespace) -> int:
    """Serve the sample app, drive light traffic, open the dashboard on it."""
    _check_refresh(args.refresh)
    import socket

    from gunicorn_tui.demo.server import DemoFailed, free_port, start_demo_server
    from gunicorn_tui.demo.traffic import DemoTraffic
    from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
    from gunicorn_tui.monitor.targets import parse_target
    from gunicorn_tui.sampling.local_instance import LaunchRecord

    recorder = _recorder(args)
    statsd_port = free_port(socket.SOCK_DGRAM)
    try:
        server = start_demo_server(workers=args.workers, port=args.port, statsd_port=statsd_port)
    except DemoFailed as error:
        raise CliError(f"demo: {error}", EXIT_FAILURE) from error
    traffic = DemoTraffic(server.base_url) if not args.no_traffic else None
    launch = LaunchRecord(server.pid, server.argv, server.environment, server.cwd)
    monitor = Monitor(
        MonitorOptions(
            targets=(parse_target(f"pid:{server.pid}"),),
            use_docker=False,
            launched=(launch,),
            statsd_address=("127.0.0.1", statsd_port),
        )
    )
    try:
        monitor.open()
        if traffic is not None:
            traffic.start()
        from gunicorn_tui.ui.app import GtuiApp

        app = GtuiApp(
            monitor,
            refresh_s=args.refresh,
            subtitle=f"demo {server.base_url}",
            engine=_engine(args, monitor),
            export_dir=_export_dir(args),
            recorder=recorder,
            **theme_options(args),
        )
        with _exit_on_hangup(app):
            app.run()
    finally:
        if traffic is not None:
            traffic.stop()
        monitor.close()
        server.stop()
    return EXIT_OK
