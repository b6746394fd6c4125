"""Where does a load client's CPU go: httpcore, the lean transport, httpx's models?

Starts a real Gunicorn with the sample app on a free 127.0.0.1 port and runs
the same closed loop (32 clients, GET /fast, keep-alive) through several
client stacks, in turn, round after round. Printed: the client thread's CPU
per request (``time.thread_time``), medians over rounds, and each stack's
ratio to httpcore (the load driver's stack before the lean transport):

- httpcore: one ``httpx.AsyncHTTPTransport`` per connection, used through
  ``handle_async_request`` with a request built once (the old driver);
- lean + httpx models: ``LeanTransport.handle_async_request`` with a request
  built once, then ``Response.aread()`` and ``aclose()``;
- lean + httpx models, request per call: the same, building the
  ``httpx.Request`` for every request (a path with ``{n}``);
- lean exchange: ``LeanTransport.exchange`` with a request prepared once
  (no httpx Request or Response on the way);
- lean exchange, new path per call: ``PreparedRequest.with_target`` for
  every request (what the driver does for a path with ``{n}``);
- raw asyncio: the request's bytes written as they are and the response
  framed by its Content-Length, no h11: the floor for asyncio streams.

Usage: python benchmarks/lean_transport_bench.py [--rounds 5] [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gunicorn_tui.load.lean_transport import LeanTransport  # noqa: E402

CLIENTS = 32
PATH = "/fast"

# One request of a client: given the client's number, send and read it all.
Send = Callable[[int], Awaitable[None]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(port: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "gunicorn",
        "--chdir", str(REPO / "gunicorn_tui" / "demo"),
        "--bind", f"127.0.0.1:{port}",
        "--workers", "4", "--worker-class", "gthread", "--threads", "8",
        "--no-control-socket", "--log-level", "warning",
        "sample_app:app",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("gunicorn did not start")


async def closed_loop(send: Send, total: int) -> float:
    """Run ``total`` requests over CLIENTS clients; CPU microseconds per request."""
    remaining = total

    async def client(number: int) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await send(number)

    # One warm-up request per client opens the connections off the clock.
    await asyncio.gather(*(send(n) for n in range(CLIENTS)))
    started = time.thread_time()
    await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    return 1e6 * (time.thread_time() - started) / total


async def httpcore_stack(url: str, total: int) -> float:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    transports = [
        httpx.AsyncHTTPTransport(limits=limits, retries=0, trust_env=False) for _ in range(CLIENTS)
    ]
    request = httpx.Request("GET", url + PATH)

    async def send(number: int) -> None:
        response = await transports[number].handle_async_request(request)
        await response.aread()
        await response.aclose()
        assert response.status_code == 200

    try:
        return await closed_loop(send, total)
    finally:
        for transport in transports:
            await transport.aclose()


async def lean_models(url: str, total: int, *, per_call: bool) -> float:
    transport = LeanTransport(max_connections=CLIENTS)
    built = httpx.Request("GET", url + PATH)
    timeout = {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}

    async def send(number: int) -> None:
        request = (
            httpx.Request("GET", url + PATH, extensions={"timeout": timeout}) if per_call else built
        )
        response = await transport.handle_async_request(request)
        await response.aread()
        await response.aclose()
        assert response.status_code == 200

    try:
        return await closed_loop(send, total)
    finally:
        await transport.aclose()


async def lean_exchange(url: str, total: int, *, per_call: bool) -> float:
    transport = LeanTransport(max_connections=CLIENTS)
    prepared = transport.prepare("GET", url + PATH)

    async def send(number: int) -> None:
        request = prepared.with_target(PATH) if per_call else prepared
        assert await transport.exchange(request, 5.0) == 200

    try:
        return await closed_loop(send, total)
    finally:
        await transport.aclose()


async def raw_asyncio(url: str, total: int) -> float:
    host, port = url.removeprefix("http://").split(":")
    request = f"GET {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    streams = [await asyncio.open_connection(host, int(port)) for _ in range(CLIENTS)]

    async def send(number: int) -> None:
        reader, writer = streams[number]
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        assert head.startswith(b"HTTP/1.1 200")

    try:
        return await closed_loop(send, total)
    finally:
        for _, writer in streams:
            writer.close()


STACKS: dict[str, Callable[[str, int], Awaitable[float]]] = {
    "httpcore (before)": httpcore_stack,
    "lean + httpx models": lambda url, n: lean_models(url, n, per_call=False),
    "  request per call": lambda url, n: lean_models(url, n, per_call=True),
    "lean exchange": lambda url, n: lean_exchange(url, n, per_call=False),
    "  new path per call": lambda url, n: lean_exchange(url, n, per_call=True),
    "raw asyncio (no h11)": raw_asyncio,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=3000, help="per stack and round")
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_gunicorn(port)
    print(
        f"gunicorn: 4 gthread workers x 8 threads at {url}; cpus: {os.cpu_count()}; "
        f"load average at start: {os.getloadavg()[0]:.2f}"
    )
    runs: dict[str, list[float]] = {name: [] for name in STACKS}
    try:
        for round_number in range(args.rounds):
            for name, stack in STACKS.items():
                runs[name].append(asyncio.run(stack(url, args.requests)))
            print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(
        f"\nclient CPU per request, closed loop, {CLIENTS} clients, GET {PATH}, "
        f"medians of {args.rounds} rounds of {args.requests} requests; "
        f"load average at end: {os.getloadavg()[0]:.2f}"
    )
    base = statistics.median(runs["httpcore (before)"])
    print(f"{'stack':<24}{'CPU us/req':>11}{'min':>7}{'max':>7}{'vs httpcore':>13}")
    for name, values in runs.items():
        med = statistics.median(values)
        print(f"{name:<24}{med:>11.0f}{min(values):>7.0f}{max(values):>7.0f}{med / base:>13.2f}")


if __name__ == "__main__":
    main()
