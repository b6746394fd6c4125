"""The load engine: one run on one event loop, in the thread that calls it.

Open loop: a dispatcher sleeps until each request is due and hands it to a
free connection. When every connection is busy it waits, and the requests
behind it go out late; their latency still counts from the time they were
due, so a slow server cannot hide behind a client that politely waits
(coordinated omission). At most ``connections`` requests are in flight,
which bounds the client's memory however far the server falls behind.

Closed loop: ``concurrency`` clients, started one after another over the
ramp-up, each sending its next request as soon as the last one ended. With
fewer connections than clients, clients wait for a free connection and the
wait counts in their latency.

Either way the run is bounded by ``duration_s`` (or the hard cap for
count-only runs) plus ``drain_s``: no request is due, and no closed-loop
request is sent, after ``duration_s``; requests in flight then get ``drain_s``
to finish (an open-loop request that was due in time may still go out late
in that window); at the hard end everything left is cut off. A stop request
cancels everything at once.

Requests go through :class:`~gunicorn_tui.load.http_pool.HttpPool`
(keep-alive, at most ``connections`` connections, each kind of request
prepared once as bytes) on the event loop and parser of a
:class:`~gunicorn_tui.load.client_stack.ClientStack`. Measured here
(benchmarks/load_driver_bench.py, closed loop on a fast endpoint): h11 on
asyncio streams cost about 120 us of CPU per request, hey about 50 us;
uvloop and httptools about 20 us. A driver that burns less CPU leaves more
of it to the server it measures.

:func:`run_engine` runs in the caller's thread; :mod:`gunicorn_tui.load.driver`
puts it in a process (or a thread) of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from gunicorn_tui.load.client_stack import ClientStack
from gunicorn_tui.load.http_pool import HttpPool, WireRequest
from gunicorn_tui.load.outcome import classify_exception
from gunicorn_tui.load.profile import LoadProfile, RunMode
from gunicorn_tui.load.recorder import RunRecorder
from gunicorn_tui.load.request_mix import RequestMix
from gunicorn_tui.load.schedule import (
    closed_loop_start_at_s,
    open_loop_due_at_s,
    open_loop_planned_requests,
    open_loop_sends_due,
)
from gunicorn_tui.load.summary import LatencySummary, RunSummary, SecondSummary, StopReason
from gunicorn_tui.load.target import LoadTarget

SecondCallback = Callable[[SecondSummary], None]
CpuClock = Callable[[], float]
# Called once, with the wall time at which the run's clock started.
StartCallback = Callable[[float], None]

_NS = 1_000_000_000
# How often the loop looks at the caller's stop event; a stop takes effect
# within this time.
_STOP_POLL_S = 0.05
# A client that is this late on average has saturated its own CPU or its
# connections; the summary says so.
_LAG_WARNING_MS = 10.0
_WARM_UP_TIMEOUT_S = 2.0


class LoadRunError(RuntimeError):
    """The run could not start or broke down (not: requests failed)."""


class _SendSlots:
    """Up to ``limit`` requests in flight: one per connection the transport
    may open, so a request that gets a slot never waits for a connection.

    Waiters are served first come, first served. (asyncio.Semaphore would
    let a task that just gave a slot back take it again before the woken
    waiter runs, starving the others.)
    """

    def __init__(self, limit: int) -> None:
        self.free = limit
        self.waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        """Take a slot for one request; give it back with :meth:`release`."""
        if self.free and not self.waiters:
            self.free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()
            raise

    def release(self) -> None:
        """Hand the slot to the longest waiter, or keep it free."""
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.free += 1


class LoadEngine:
    """One run on one event loop. Not thread-safe: lives in the thread that runs it."""

    def __init__(
        self,
        profile: LoadProfile,
        target: LoadTarget,
        on_second: SecondCallback | None,
        stop_event: threading.Event,
        stack: ClientStack,
        cpu_clock: CpuClock = time.thread_time,
        on_start: StartCallback | None = None,
    ) -> None:
        self.profile = profile
        self.target = target
        self.on_second = on_second
        self.on_start = on_start
        self.stop_event = stop_event
        self.recorder = RunRecorder(profile.requests)
        self.mix = RequestMix(profile.requests, profile.seed)
        self.warnings: list[str] = []
        self.claimed = 0
        self.active_senders = 0
        self.stopped = False
        self.failure: BaseException | None = None
        self.start_ns = 0
        self.window_end_ns = 0
        self.hard_end_ns = 0
        self.started_at = 0.0
        self.send_end_ns = 0
        self.planned: int | None = None
        self.wake: asyncio.Event | None = None
        self.prepared: list[WireRequest] = []
        self.has_placeholder = [spec.has_placeholder for spec in profile.requests]
        # A {n} path is sent as this prefix (the base URL's path) + the path.
        self.path_prefix = urlsplit(target.base_url).path
        self.in_flight: set[asyncio.Task[None]] = set()
        self.slots = _SendSlots(profile.connections)
        # One pool per URL (the replicas of a service), taken in turn. Each
        # may open ``connections``: the send slots bound the requests in
        # flight over all of them.
        self.transports = [
            HttpPool(
                url,
                verify=profile.verify_tls,
                max_connections=profile.connections,
                uds=target.unix_socket_path,
                parser=stack.parser,
            )
            for url in target.base_urls
        ]
        self.transport = self.transports[0]
        self.next_transport = 0
        self.stack = stack
        self.cpu_clock = cpu_clock

    async def run(self) -> RunSummary:
        profile = self.profile
        loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()
        if profile.mode is RunMode.OPEN:
            assert profile.rate_rps is not None
            self.planned = open_loop_planned_requests(
                profile.duration_s, profile.rate_rps, profile.ramp_up_s, profile.max_requests
            )
            sender_count = 1  # the dispatcher
        else:
            assert profile.concurrency is not None
            self.planned = profile.max_requests
            sender_count = profile.concurrency
        try:
            self.prepared_by_transport = [
                [
                    transport.prepare(
                        spec.method,
                        self.path_prefix + spec.path,
                        headers=spec.headers,
                        body=spec.body,
                    )
                    for spec in profile.requests
                ]
                for transport in self.transports
            ]
        except (httpx.InvalidURL, httpx.HTTPError, ValueError) as exc:
            raise LoadRunError(f"cannot prepare requests for {self.target.label}: {exc}") from None
        self.prepared = self.prepared_by_transport[0]
        try:
            await self._warm_up()
            # Client CPU counts from here: set-up costs are not per request.
            cpu_start_s = self.cpu_clock()
            self.started_at = time.time()
            self.start_ns = time.monotonic_ns()
            self.window_end_ns = self.start_ns + _NS
            self.send_end_ns = self.start_ns + int(profile.time_bound_s * _NS)
            if self.on_start is not None:
                self.on_start(self.started_at)
            self.hard_end_ns = self.send_end_ns + int(profile.drain_s * _NS)
            senders = [
                loop.create_task(self._sender(number, sender_count))
                for number in range(sender_count)
            ]
            self.active_senders = len(senders)
            ticker = loop.create_task(self._tick())
            watcher = loop.create_task(self._watch(self.hard_end_ns))
            await self.wake.wait()
            leftovers = (*senders, *self.in_flight, ticker, watcher)
            for task in leftovers:
                task.cancel()
            await asyncio.gather(*leftovers, return_exceptions=True)
        finally:
            for transport in self.transports:
                await transport.aclose()
        if self.failure is not None:
            raise LoadRunError(f"the load driver broke down: {self.failure!r}") from self.failure
        end_ns = time.monotonic_ns()
        self._roll(end_ns)
        self._close_window(end_ns, final=True)
        return self._summary(end_ns, self.cpu_clock() - cpu_start_s)

    async def _warm_up(self) -> None:
        """Pay the client's one-off costs before the clock starts.

        Opening the first connection can start the resolver's thread pool
        (a host name) and build the TLS context (tens of ms): costs of the
        client, which would otherwise land in the first requests' latency.
        So one connection is opened and closed, the way the transport opens
        its own. No request is sent; a failure is left for the run to count.
        """
        timeout_s = min(self.profile.timeout_s, _WARM_UP_TIMEOUT_S)
        for transport in self.transports:
            with contextlib.suppress(httpx.TransportError, OSError):
                await transport.probe(timeout_s)

    # -- senders ---------------------------------------------------------

    async def _sender(self, number: int, count: int) -> None:
        try:
            if self.profile.mode is RunMode.OPEN:
                await self._open_dispatcher()
            else:
                await self._closed_client(number, count)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # a bug here must end the run, not hang it
            self.failure = exc
            self._set_wake()
        finally:
            self.active_senders -= 1
            if self.active_senders == 0:
                self._set_wake()

    def _claim(self) -> bool:
        """Take the next request of the run, if the count allows one more."""
        limit = self.planned
        if limit is not None and self.claimed >= limit:
            return False
        self.claimed += 1
        return True

    async def _open_dispatcher(self) -> None:
        """Send each request at its due time on a free connection.

        When no connection is free the dispatcher waits, and every request
        behind it goes out late: their latency counts from the due time.
        """
        profile = self.profile
        assert profile.rate_rps is not None
        rate, ramp = profile.rate_rps, profile.ramp_up_s
        monotonic_ns = time.monotonic_ns
        slots = self.slots
        loop = asyncio.get_running_loop()
        in_flight = self.in_flight
        while True:
            index = self.claimed
            if not self._claim():
                break
            due_ns = self.start_ns + int(open_loop_due_at_s(index, rate, ramp) * _NS)
            if due_ns >= self.send_end_ns:
                break
            # uvloop's timers have a resolution of 1 ms and may fire up to
            # that early: sleep again until the request is due, so that none
            # goes out (and is counted) before its time.
            while (delay_ns := due_ns - monotonic_ns()) > 0:
                await asyncio.sleep(delay_ns / _NS)
            await slots.acquire()
            # A request due in time goes out even if late: it is counted
            # as missed only when the hard end cuts it off before it left.
            task = loop.create_task(self._send_and_release(due_ns))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.wait(tuple(in_flight))

    async def _send_and_release(self, due_ns: int) -> None:
        try:
            await self._send(due_ns)
        finally:
            self.slots.release()

    async def _closed_client(self, number: int, count: int) -> None:
        start_offset_s = closed_loop_start_at_s(number, count, self.profile.ramp_up_s)
        if start_offset_s > 0:
            await asyncio.sleep(start_offset_s)
        monotonic_ns = time.monotonic_ns
        slots = self.slots
        while monotonic_ns() < self.send_end_ns and self._claim():
            # With fewer connections than clients, the wait for one is part
            # of this client's latency.
            due_ns = monotonic_ns()
            await slots.acquire()
            try:
                await self._send(due_ns)
            finally:
                slots.release()

    async def _send(self, due_ns: int) -> None:
        spec_index, path = self.mix.next()
        recorder = self.recorder
        sent_ns = time.monotonic_ns()
        self._roll(sent_ns)
        recorder.on_sent(spec_index, due_ns, sent_ns)
        # Round-robin over the URLs (one: always the same).
        turn = self.next_transport
        self.next_transport = (turn + 1) % len(self.transports)
        try:
            prepared = self.prepared_by_transport[turn][spec_index]
            if self.has_placeholder[spec_index]:
                prepared = prepared.with_target(self.path_prefix + path)
            status_code = await self.transports[turn].exchange(prepared, self.profile.timeout_s)
        except asyncio.CancelledError:
            recorder.on_unfinished(spec_index)
            raise
        except Exception as exc:  # every failure is counted by kind, none is fatal
            self._roll(time.monotonic_ns())
            recorder.on_failure(spec_index, classify_exception(exc))
        else:
            done_ns = time.monotonic_ns()
            self._roll(done_ns)
            recorder.on_response(spec_index, status_code, due_ns, sent_ns, done_ns)

    # -- time keeping ------------------------------------------------------

    async def _tick(self) -> None:
        while True:
            delay_ns = self.window_end_ns - time.monotonic_ns()
            if delay_ns > 0:
                await asyncio.sleep(delay_ns / _NS)
            self._roll(time.monotonic_ns())

    def _roll(self, now_ns: int) -> None:
        """Close every window that ended by ``now_ns``.

        Called before each event is recorded, so an event counts in the
        second its timestamp falls in, whether the ticker or a sender runs
        first at a boundary.
        """
        while now_ns >= self.window_end_ns:
            self._close_window(self.window_end_ns, final=False)
            self.window_end_ns += _NS

    def _close_window(self, end_ns: int, *, final: bool) -> None:
        index = len(self.recorder.seconds)
        window_start_ns = self.start_ns + index * _NS
        window_s = max(0.0, (end_ns - window_start_ns) / _NS)
        if final and window_s < 1e-3 and self.recorder.window_is_empty():
            return
        target_sends = None
        if self.profile.mode is RunMode.OPEN:
            assert self.profile.rate_rps is not None
            target_sends = open_loop_sends_due(
                index,
                index + window_s,
                self.profile.rate_rps,
                self.profile.ramp_up_s,
                self.planned,
            )
        summary = self.recorder.close_second(index, window_s, self.started_at + index, target_sends)
        if self.on_second is not None:
            try:
                self.on_second(summary)
            except Exception as exc:  # a broken consumer must not end the run
                message = f"the per-second callback failed: {exc!r}"
                if message not in self.warnings:
                    self.warnings.append(message)

    async def _watch(self, hard_end_ns: int) -> None:
        while True:
            if self.stop_event.is_set():
                self.stopped = True
                self._set_wake()
                return
            remaining_s = (hard_end_ns - time.monotonic_ns()) / _NS
            if remaining_s <= 0:
                self._set_wake()
                return
            await asyncio.sleep(min(_STOP_POLL_S, remaining_s))

    def _set_wake(self) -> None:
        if self.wake is not None:
            self.wake.set()

    # -- the result ----------------------------------------------------------

    def _stop_reason(self) -> StopReason:
        profile = self.profile
        if self.stopped:
            return StopReason.STOPPED
        if profile.max_requests is not None and self.recorder.sent >= profile.max_requests:
            return StopReason.MAX_REQUESTS
        if profile.duration_s is None:
            return StopReason.TIME_CAP
        return StopReason.DURATION

    def _summary(self, end_ns: int, cpu_s: float) -> RunSummary:
        profile = self.profile
        recorder = self.recorder
        elapsed_s = (end_ns - self.start_ns) / _NS
        missed = 0
        stop_reason = self._stop_reason()
        if profile.mode is RunMode.OPEN and self.planned is not None:
            if stop_reason is StopReason.STOPPED:
                assert profile.rate_rps is not None
                due_by_stop = open_loop_sends_due(
                    0.0, elapsed_s, profile.rate_rps, profile.ramp_up_s, self.planned
                )
                missed = max(0, due_by_stop - recorder.sent)
            else:
                missed = max(0, self.planned - recorder.sent)
        warnings = list(self.warnings)
        send_lag = LatencySummary.of(recorder.send_lag)
        if (
            profile.mode is RunMode.OPEN
            and send_lag.mean_ms is not None
            and send_lag.mean_ms > _LAG_WARNING_MS
        ):
            cpu_share = 100.0 * cpu_s / elapsed_s if elapsed_s > 0 else 0.0
            cause = (
                "the client's CPU is saturated"
                if cpu_share > 90
                else "all connections were busy: the server is slower than the rate"
            )
            warnings.append(
                f"requests went out {send_lag.mean_ms:.1f} ms late on average ({cause}); "
                f"latency counts the wait, service time does not"
            )
        if missed:
            warnings.append(f"{missed} requests were due but not sent before the run ended")
        if recorder.unfinished:
            warnings.append(
                f"{recorder.unfinished} requests were still in flight at the end and were cut off"
            )
        if recorder.sent and recorder.completed == 0:
            warnings.append("no request got a response")
        return RunSummary(
            profile_source=profile.source,
            mode=profile.mode,
            target=self.target.label,
            started_at=self.started_at,
            elapsed_s=elapsed_s,
            stop_reason=stop_reason,
            rate_rps=profile.rate_rps,
            concurrency=profile.concurrency,
            connections=profile.connections,
            planned_requests=self.planned,
            sent=recorder.sent,
            completed=recorder.completed,
            unfinished=recorder.unfinished,
            missed=missed,
            errors=recorder.error_counts(),
            status_counts=dict(sorted(recorder.status_counts.items())),
            latency=LatencySummary.of(recorder.latency),
            service=LatencySummary.of(recorder.service),
            send_lag=send_lag,
            endpoints=recorder.endpoint_summaries(),
            seconds=tuple(recorder.seconds),
            client_cpu_s=cpu_s,
            warnings=tuple(warnings),
            client_stack=self.stack.label,
        )


def run_engine(
    profile: LoadProfile,
    target: LoadTarget,
    *,
    stack: ClientStack,
    on_second: SecondCallback | None = None,
    stop_event: threading.Event | None = None,
    cpu_clock: CpuClock = time.thread_time,
    on_start: StartCallback | None = None,
) -> RunSummary:
    """Run ``profile`` against ``target`` on a new event loop of ``stack``,
    in this thread, and return the summary. ``cpu_clock`` is the clock the
    client's CPU is read from (this thread's, or the process's when the run
    has a process of its own). Raises :class:`LoadRunError`."""
    engine = LoadEngine(
        profile,
        target,
        on_second,
        stop_event if stop_event is not None else threading.Event(),
        stack,
        cpu_clock,
        on_start,
    )
    with asyncio.Runner(loop_factory=stack.loop_factory()) as runner:
        return runner.run(engine.run())


__all__ = [
    "CpuClock",
    "LoadEngine",
    "LoadRunError",
    "SecondCallback",
    "StartCallback",
    "run_engine",
]
