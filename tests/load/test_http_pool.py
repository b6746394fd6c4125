"""The load driver's HTTP pool against real servers on 127.0.0.1.

Real Gunicorn processes for what servers do right (keep-alive, HEAD, 204 and
304, chunked and large bodies, TLS, a Unix socket, ``Connection: close``, a
keep-alive timeout), and a raw scripted server for what they do wrong
(hanging up or resetting mid-response, closing a kept-alive connection under
a request, bytes nobody asked for). Gunicorn's access log gives each
request's remote port, which tells connections apart.

Every test runs on each client stack: uvloop with llhttp (httptools), and
the pure-Python fallback (asyncio's loop with h11); both must behave alike.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import psutil
import pytest

from gunicorn_tui.load.client_stack import PURE_PYTHON, ClientStack
from gunicorn_tui.load.http_pool import HttpPool
from gunicorn_tui.load.outcome import ErrorKind, classify_exception
from gunicorn_tui.load.response_parsers import H11Parser, HttptoolsParser
from tests.load.load_servers import LoadGunicorn, Reply, ScriptedServer, free_port

OK_BODY = b'{"ok": true}'
OK_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n" + OK_BODY
STACKS = [
    pytest.param(ClientStack("uvloop", "httptools"), id="uvloop-httptools"),
    pytest.param(PURE_PYTHON, id="asyncio-h11"),
]

ScriptedFactory = Callable[..., ScriptedServer]
T = TypeVar("T")


def _run(stack: ClientStack, body: Callable[[], Awaitable[T]]) -> T:
    """Run ``body`` on a fresh event loop of ``stack``."""
    with asyncio.Runner(loop_factory=stack.loop_factory()) as runner:
        return runner.run(body())  # type: ignore[arg-type]


def _pool(stack: ClientStack, url: str, **kwargs: object) -> HttpPool:
    return HttpPool(url, parser=stack.parser, **kwargs)  # type: ignore[arg-type]


async def _fetch(pool: HttpPool, target: str, timeout_s: float = 5.0, method: str = "GET") -> int:
    return await pool.exchange(pool.prepare(method, target), timeout_s)


def _marker() -> str:
    return uuid.uuid4().hex[:12]


def _ports(server: LoadGunicorn, marker: str, count: int) -> set[str]:
    assert server.wait_for_entries(marker, count) == count
    return {entry[4] for entry in server.access_entries(marker)}


def _established_to(port: int) -> int:
    """This process's established TCP connections to 127.0.0.1:``port``."""
    return sum(
        1
        for conn in psutil.Process().net_connections(kind="tcp")
        if conn.raddr and conn.raddr.port == port and conn.status == psutil.CONN_ESTABLISHED
    )


# -- keep-alive and the connection limit, against Gunicorn ---------------------


@pytest.mark.parametrize("stack", STACKS)
def test_keep_alive_reuses_one_connection(stack: ClientStack, load_gunicorn: LoadGunicorn) -> None:
    marker = _marker()
    pool = _pool(stack, load_gunicorn.url)

    async def body() -> list[int]:
        statuses = [await _fetch(pool, f"/fast?m={marker}") for _ in range(20)]
        await pool.aclose()
        return statuses

    assert _run(stack, body) == [200] * 20
    assert pool.connections_opened == 1
    assert len(_ports(load_gunicorn, marker, 20)) == 1


@pytest.mark.parametrize("stack", STACKS)
def test_the_connection_limit_holds_and_waiters_take_turns(
    stack: ClientStack, load_gunicorn: LoadGunicorn
) -> None:
    marker = _marker()
    pool = _pool(stack, load_gunicorn.url, max_connections=3)

    async def body() -> tuple[list[int], float]:
        started = time.monotonic()
        statuses = await asyncio.gather(
            *(_fetch(pool, f"/io?ms=100&m={marker}") for _ in range(12))
        )
        took = time.monotonic() - started
        await pool.aclose()
        return list(statuses), took

    statuses, took = _run(stack, body)
    assert statuses == [200] * 12
    assert pool.connections_opened == 3
    assert len(_ports(load_gunicorn, marker, 12)) == 3
    assert took >= 0.39  # 12 requests of 100 ms, 3 at a time


@pytest.mark.parametrize("stack", STACKS)
def test_a_request_that_waits_too_long_for_a_connection_gets_a_pool_timeout(
    stack: ClientStack, load_gunicorn: LoadGunicorn
) -> None:
    pool = _pool(stack, load_gunicorn.url, max_connections=1)

    async def body() -> None:
        slow = asyncio.ensure_future(_fetch(pool, "/io?ms=800"))
        await asyncio.sleep(0.2)
        with pytest.raises(httpx.PoolTimeout) as caught:
            await _fetch(pool, "/fast", timeout_s=0.2)
        assert classify_exception(caught.value) is ErrorKind.TIMEOUT
        assert await slow == 200
        # The waiter that gave up left no slot behind: the connection is free.
        assert await _fetch(pool, "/fast") == 200
        await pool.aclose()

    _run(stack, body)
    assert pool.connections_opened == 1


# -- responses without a body, and bodies of every framing ---------------------


@pytest.mark.parametrize("stack", STACKS)
def test_head_204_and_304_have_no_body_and_keep_the_connection(
    stack: ClientStack, load_gunicorn: LoadGunicorn
) -> None:
    marker = _marker()
    pool = _pool(stack, load_gunicorn.url)

    async def body() -> list[int]:
        statuses = [
            await _fetch(pool, f"/fast?m={marker}", method="HEAD"),
            await _fetch(pool, f"/status/204?m={marker}"),
            await _fetch(pool, f"/status/304?m={marker}"),
            await _fetch(pool, f"/fast?m={marker}"),
            await _fetch(pool, f"/fast?m={marker}", method="HEAD"),
            await _fetch(pool, f"/fast?m={marker}"),
        ]
        await pool.aclose()
        return statuses

    # A HEAD's Content-Length announces the GET's body; gunicorn keeps a
    # 304's too: neither body may be waited for, or read as the next answer.
    assert _run(stack, body) == [200, 204, 304, 200, 200, 200]
    assert pool.connections_opened == 1
    assert len(_ports(load_gunicorn, marker, 6)) == 1


@pytest.mark.parametrize("stack", STACKS)
def test_chunked_and_large_bodies_are_read_to_their_end(
    stack: ClientStack, load_bodies_gunicorn: LoadGunicorn
) -> None:
    size = 3 << 20
    upload = bytes(reversed(range(256))) * 1200  # 300 KB: more than a socket buffer
    pool = _pool(stack, load_bodies_gunicorn.url)

    async def body() -> list[int]:
        put = pool.prepare("PUT", "/echo", body=upload)
        statuses = [
            await _fetch(pool, "/chunked?n=30&size=2000&pause_ms=2"),
            await _fetch(pool, "/chunked?n=5&size=10&pause_ms=50"),
            await _fetch(pool, f"/big?bytes={size}", timeout_s=10.0),
            await pool.exchange(put, 10.0),
            await pool.exchange(put, 10.0),
            await _fetch(pool, "/echo"),
        ]
        await pool.aclose()
        return statuses

    assert _run(stack, body) == [200] * 6
    # Each response was read to its end, or the next would have failed.
    assert pool.connections_opened == 1


@pytest.mark.parametrize("stack", STACKS)
def test_prepared_requests_carry_method_host_headers_and_body(
    stack: ClientStack, load_scripted_server_factory: ScriptedFactory
) -> None:
    server = load_scripted_server_factory(*[Reply(OK_RESPONSE)] * 3)
    pool = _pool(stack, server.url)
    prepared = pool.prepare("POST", "/items/{n}", headers=[("X-Kind", "a")], body=b'{"a": 1}')

    async def body() -> None:
        for target in ("/items/1", "/items/2?q=x", "/ítems/3"):
            assert await pool.exchange(prepared.with_target(target), 5.0) == 200
        await pool.aclose()

    _run(stack, body)
    sent = server.requests[0]
    assert [request.split(b"\r\n")[0] for request in sent] == [
        b"POST /items/1 HTTP/1.1",
        b"POST /items/2?q=x HTTP/1.1",
        b"POST /%C3%ADtems/3 HTTP/1.1",
    ]
    for request in sent:
        head, _, payload = request.partition(b"\r\n\r\n")
        assert head.split(b"\r\n")[1:] == [
            f"Host: 127.0.0.1:{server.port}".encode(),
            b"X-Kind: a",
            b"Content-Length: 8",
        ]
        assert payload == b'{"a": 1}'
    with pytest.raises(httpx.LocalProtocolError):
        prepared.with_target("/a b")


@pytest.mark.parametrize("stack", STACKS)
def test_prepare_adds_what_httpx_adds_and_refuses_what_could_smuggle(
    stack: ClientStack, load_scripted_server_factory: ScriptedFactory
) -> None:
    server = load_scripted_server_factory(*[Reply(OK_RESPONSE)] * 2)
    pool = _pool(stack, server.url)

    async def body() -> None:
        assert await pool.exchange(pool.prepare("POST", "/empty"), 5.0) == 200
        named = pool.prepare("GET", "/named", headers=[("Host", "example.test")])
        assert await pool.exchange(named, 5.0) == 200
        await pool.aclose()

    _run(stack, body)
    heads = [request.split(b"\r\n")[1:-2] for request in server.requests[0]]
    assert heads == [
        [f"Host: 127.0.0.1:{server.port}".encode(), b"Content-Length: 0"],
        [b"Host: example.test"],
    ]
    default_port = HttpPool("http://127.0.0.1:80").prepare("GET", "/")
    assert default_port.data == b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    bad_requests: list[tuple[str, str, list[tuple[str, str]]]] = [
        ("GET", "/", [("X-A", "1\r\nX-Injected: 2")]),
        ("GET", "/", [("X A", "1")]),
        ("GE T", "/", []),
        ("GET", "http://other.test/x", []),
    ]
    for method, target, headers in bad_requests:
        with pytest.raises(httpx.LocalProtocolError):
            pool.prepare(method, target, headers=headers)


# -- connections the server ends -------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_a_connection_gunicorn_closed_while_idle_is_replaced_not_failed(
    stack: ClientStack, load_gunicorn_factory: Callable[..., LoadGunicorn]
) -> None:
    server = load_gunicorn_factory(extra_args=("--keep-alive", "1"))
    marker = _marker()
    pool = _pool(stack, server.url)

    async def body() -> list[int]:
        first = await _fetch(pool, f"/fast?m={marker}")
        # gthread closes connections idle for more than 1 s, checking about
        # once a second.
        await asyncio.sleep(2.5)
        second = await _fetch(pool, f"/fast?m={marker}")
        await pool.aclose()
        return [first, second]

    assert _run(stack, body) == [200, 200]
    assert pool.connections_opened == 2
    assert len(_ports(server, marker, 2)) == 2


@pytest.mark.parametrize("stack", STACKS)
def test_a_connection_closed_while_idle_is_replaced_even_after_unasked_bytes(
    stack: ClientStack, load_scripted_server_factory: ScriptedFactory
) -> None:
    # The server answers, then after 0.1 s idle says 408 unasked and hangs up.
    timeout_408 = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    reply = Reply(OK_RESPONSE, then="close_later", idle_s=0.1, unasked=timeout_408)
    server = load_scripted_server_factory(reply)
    pool = _pool(stack, server.url)

    async def body() -> list[int]:
        first = await _fetch(pool, "/a")
        await asyncio.sleep(0.5)
        second = await _fetch(pool, "/b")
        await pool.aclose()
        return [first, second]

    assert _run(stack, body) == [200, 200]
    assert pool.connections_opened == 2
    assert [len(requests) for requests in server.requests] == [1, 1]


@pytest.mark.parametrize("stack", STACKS)
def test_bytes_sent_beyond_a_response_retire_the_connection(
    stack: ClientStack, load_scripted_server_factory: ScriptedFactory
) -> None:
    stray = OK_RESPONSE + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray"
    server = load_scripted_server_factory(Reply(stray), Reply(OK_RESPONSE))
    pool = _pool(stack, server.url)

    async def body() -> list[int]:
        statuses = [await _fetch(pool, "/a"), await _fetch(pool, "/b")]
        await pool.aclose()
        return statuses

    assert _run(stack, body) == [200, 200]
    # The stray response was not taken for /b's: /b went on a new connection.
    assert pool.connections_opened == 2


@pytest.mark.parametrize("stack", STACKS)
def test_a_kept_alive_connection_closed_under_a_request_fails_it_without_a_retry(
    stack: ClientStack, load_scripted_server_factory: ScriptedFactory
) -> None:
    # Answers the first request, reads the second and hangs up.
    server = load_scripted_server_factory(Reply(OK_RESPONSE))
    pool = _pool(stack, server.url)

    async def body() -> None:
        assert await _fetch(pool, "/a") == 200
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response") as got:
            await _fetch(pool, "/b")
        assert classify_exception(got.value) is ErrorKind.PROTOCOL
        assert await _fetch(pool, "/c") == 200
        await pool.aclose()

    _run(stack, body)
    targets = [[request.split(b" ")[1] for request in conn] for conn in server.requests]
    assert targets == [[b"/a", b"/b"], [b"/c"]]  # /b was sent once, never again


@pytest.mark.parametrize("stack", STACKS)
def test_connection_close_answers_open_a_connection_each(
    stack: ClientStack, load_gunicorn_factory: Callable[..., LoadGunicorn]
) -> None:
    # Sync workers answer with "Connection: close".
    server = load_gunicorn_factory(worker_class="sync", workers=1, threads=1)
    marker = _marker()
    pool = _pool(stack, server.url)

    async def body() -> None:
        for _ in range(5):
            assert await _fetch(pool, f"/fast?m={marker}") == 200
        await asyncio.sleep(0.05)  # the closes complete
        assert pool.connections_open == 0
        await pool.aclose()

    _run(stack, body)
    assert pool.connections_opened == 5
    assert len(_ports(server, marker, 5)) == 5


@pytest.mark.parametrize("stack", STACKS)
def test_a_body_that_runs_to_the_end_of_the_connection(
    stack: ClientStack, load_scripted_server_factory: ScriptedFactory
) -> None:
    # No Content-Length, not chunked: the body ends when the server closes.
    until_close = Reply(b"HTTP/1.1 200 OK\r\n\r\nall of it", then="close")
    server = load_scripted_server_factory(until_close)
    pool = _pool(stack, server.url)

    async def body() -> None:
        assert await _fetch(pool, "/a") == 200
        assert await _fetch(pool, "/b") == 200  # on a new connection
        await pool.aclose()

    _run(stack, body)
    assert pool.connections_opened == 2


# -- servers that break off -----------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(Reply(b"", then="close"), id="hangs-up-unanswered"),
        pytest.param(Reply(b"HTTP/1.1 200 OK\r\nContent-", then="close"), id="mid-head"),
        pytest.param(
            Reply(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part", then="close"),
            id="mid-content-length-body",
        ),
        pytest.param(
            Reply(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nab",
                then="close",
            ),
            id="mid-chunked-body",
        ),
        pytest.param(Reply(b"HELLO THERE\r\n\r\n", then="close"), id="not-http"),
    ],
)
def test_a_server_that_breaks_off_is_a_protocol_error(
    stack: ClientStack, reply: Reply, load_scripted_server_factory: ScriptedFactory
) -> None:
    server = load_scripted_server_factory(reply)
    pool = _pool(stack, server.url)

    async def body() -> None:
        with pytest.raises(httpx.RemoteProtocolError) as caught:
            await _fetch(pool, "/a")
        assert classify_exception(caught.value) is ErrorKind.PROTOCOL
        await asyncio.sleep(0.05)
        assert pool.connections_open == 0
        await pool.aclose()

    _run(stack, body)


@pytest.mark.parametrize("stack", STACKS)
def test_a_reset_mid_response_is_a_read_error(
    stack: ClientStack, load_scripted_server_factory: ScriptedFactory
) -> None:
    reply = Reply(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart", then="reset")
    server = load_scripted_server_factory(reply)
    pool = _pool(stack, server.url)

    async def body() -> None:
        with pytest.raises(httpx.ReadError) as caught:
            await _fetch(pool, "/a")
        assert isinstance(caught.value.__cause__, ConnectionResetError)
        assert classify_exception(caught.value) is ErrorKind.PROTOCOL
        await asyncio.sleep(0.05)
        assert pool.connections_open == 0

    _run(stack, body)


# -- timeouts, refusals, cancellation -------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_a_slow_response_times_out_and_its_connection_is_dropped(
    stack: ClientStack, load_gunicorn: LoadGunicorn
) -> None:
    pool = _pool(stack, load_gunicorn.url)

    async def body() -> float:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout) as caught:
            await _fetch(pool, "/io?ms=3000", timeout_s=0.3)
        took = time.monotonic() - started
        assert classify_exception(caught.value) is ErrorKind.TIMEOUT
        await asyncio.sleep(0.05)
        assert pool.connections_open == 0
        # The late answer must not be read as the next request's.
        assert await _fetch(pool, "/status/201") == 201
        await pool.aclose()
        return took

    took = _run(stack, body)
    # The sweeper looks every timeout/20: the deadline holds within that.
    assert 0.3 <= took < 0.3 + 0.3 / 20 + 0.3
    assert pool.connections_opened == 2


@pytest.mark.parametrize("stack", STACKS)
def test_a_server_that_accepts_and_never_answers_is_timed_out(
    stack: ClientStack, load_scripted_server_factory: ScriptedFactory
) -> None:
    # The script's one reply is for the first request; the second is read
    # and never answered, and the connection stays open.
    server = load_scripted_server_factory(Reply(b"", then="keep"))
    pool = _pool(stack, server.url)

    async def body() -> None:
        with pytest.raises(httpx.ReadTimeout):
            await _fetch(pool, "/a", timeout_s=0.4)
        await pool.aclose()

    started = time.monotonic()
    _run(stack, body)
    assert time.monotonic() - started < 2.0


@pytest.fixture
def full_listener() -> Iterator[int]:
    """A port whose accept queue is full: new connections hang in SYN."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    filler = socket.create_connection(("127.0.0.1", port), timeout=1.0)
    yield port
    filler.close()
    listener.close()


@pytest.mark.parametrize("stack", STACKS)
def test_a_connection_that_never_completes_is_a_connect_timeout(
    stack: ClientStack, full_listener: int
) -> None:
    pool = _pool(stack, f"http://127.0.0.1:{full_listener}")

    async def body() -> None:
        started = time.monotonic()
        with pytest.raises(httpx.ConnectTimeout) as caught:
            await _fetch(pool, "/", timeout_s=0.3)
        assert time.monotonic() - started < 1.5
        assert classify_exception(caught.value) is ErrorKind.TIMEOUT
        assert pool.connections_open == 0

    _run(stack, body)


@pytest.mark.parametrize("stack", STACKS)
def test_a_refused_connection(stack: ClientStack) -> None:
    pool = _pool(stack, f"http://127.0.0.1:{free_port()}")

    async def body() -> None:
        with pytest.raises(httpx.ConnectError) as caught:
            await _fetch(pool, "/")
        assert isinstance(caught.value.__cause__, ConnectionRefusedError)
        assert classify_exception(caught.value) is ErrorKind.CONNECT_REFUSED
        assert pool.connections_open == 0

    _run(stack, body)


@pytest.mark.parametrize("stack", STACKS)
def test_a_cancelled_request_gives_its_slot_back_and_its_connection_is_cut(
    stack: ClientStack, load_gunicorn: LoadGunicorn
) -> None:
    pool = _pool(stack, load_gunicorn.url, max_connections=1)

    async def body() -> None:
        slow = asyncio.ensure_future(_fetch(pool, "/io?ms=3000"))
        await asyncio.sleep(0.3)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        await asyncio.sleep(0.05)
        assert pool.connections_open == 0
        assert await _fetch(pool, "/fast") == 200
        await pool.aclose()

    _run(stack, body)
    assert pool.connections_opened == 2


# -- TLS and Unix sockets -----------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_tls_with_a_self_signed_certificate(
    stack: ClientStack,
    load_gunicorn_factory: Callable[..., LoadGunicorn],
    load_tls_files: tuple[Path, Path],
) -> None:
    cert, key = load_tls_files
    server = load_gunicorn_factory(certfile=cert, keyfile=key)
    assert server.url.startswith("https://")
    marker = _marker()
    insecure = _pool(stack, server.url, verify=False)
    strict = _pool(stack, server.url)  # verify=True: the self-signed certificate is refused
    trusting = _pool(stack, server.url, verify=ssl.create_default_context(cafile=str(cert)))

    async def body() -> None:
        for _ in range(5):
            assert await _fetch(insecure, f"/fast?m={marker}") == 200
        await insecure.aclose()
        with pytest.raises(httpx.ConnectError) as caught:
            await _fetch(strict, "/fast")
        assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)
        assert classify_exception(caught.value) is ErrorKind.TLS
        # Verification is real: with the certificate trusted, it is accepted.
        assert await _fetch(trusting, "/fast") == 200
        await trusting.aclose()

    _run(stack, body)
    assert insecure.connections_opened == 1
    assert len(_ports(server, marker, 5)) == 1


@pytest.mark.parametrize("stack", STACKS)
def test_https_to_a_plain_http_port_is_a_tls_error(
    stack: ClientStack, load_gunicorn: LoadGunicorn
) -> None:
    pool = _pool(stack, load_gunicorn.url.replace("http://", "https://"), verify=False)

    async def body() -> None:
        with pytest.raises(httpx.ConnectError) as caught:
            await _fetch(pool, "/fast")
        assert classify_exception(caught.value) is ErrorKind.TLS

    _run(stack, body)


@pytest.mark.parametrize("stack", STACKS)
def test_a_unix_socket(
    stack: ClientStack,
    load_gunicorn_factory: Callable[..., LoadGunicorn],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    socket_path = tmp_path_factory.mktemp("sock") / "g.sock"
    server = load_gunicorn_factory(bind=f"unix:{socket_path}")
    pool = _pool(stack, "http://localhost", uds=str(socket_path))

    async def body() -> None:
        for _ in range(3):
            assert await _fetch(pool, "/fast") == 200
        await pool.aclose()

    _run(stack, body)
    assert pool.connections_opened == 1
    assert server.process.poll() is None


# -- closing ------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_aclose_closes_idle_connections_and_refuses_new_requests(
    stack: ClientStack, load_gunicorn: LoadGunicorn
) -> None:
    port = int(load_gunicorn.url.rsplit(":", 1)[1])
    before = _established_to(port)
    pool = _pool(stack, load_gunicorn.url, max_connections=4)

    async def body() -> None:
        statuses = await asyncio.gather(*(_fetch(pool, "/io?ms=50") for _ in range(4)))
        assert list(statuses) == [200] * 4
        assert _established_to(port) == before + 4
        await pool.aclose()
        assert pool.connections_open == 0
        assert _established_to(port) == before
        with pytest.raises(RuntimeError, match="closed"):
            await _fetch(pool, "/fast")

    _run(stack, body)


@pytest.mark.parametrize("stack", STACKS)
def test_probe_opens_and_closes_one_connection_and_reports_refusals(
    stack: ClientStack, load_gunicorn: LoadGunicorn
) -> None:
    pool = _pool(stack, load_gunicorn.url)
    refused = _pool(stack, f"http://127.0.0.1:{free_port()}")

    async def body() -> None:
        await pool.probe(2.0)
        assert pool.connections_opened == 1
        assert pool.connections_open == 0
        with pytest.raises(httpx.ConnectError):
            await refused.probe(2.0)

    _run(stack, body)


def test_a_limit_below_one_and_other_schemes_are_refused() -> None:
    with pytest.raises(ValueError, match="max_connections"):
        HttpPool("http://127.0.0.1:8000", max_connections=0)
    with pytest.raises(httpx.UnsupportedProtocol):
        HttpPool("ftp://127.0.0.1/")


# -- the parsers on their own ---------------------------------------------------------------


@pytest.mark.parametrize(
    "make", [HttptoolsParser, lambda: H11Parser(b"GET")], ids=["llhttp", "h11"]
)
def test_parsers_agree_on_where_a_response_ends(make: Callable[[], HttptoolsParser]) -> None:
    parser = make()
    response = b"HTTP/1.1 100 Continue\r\n\r\n" + OK_RESPONSE
    # Byte by byte: the status comes with the last byte of the body, not before.
    statuses = [parser.feed(response[i : i + 1]) for i in range(len(response))]
    assert statuses[:-1] == [None] * (len(response) - 1)
    assert statuses[-1] == 200
    assert parser.keep_alive and not parser.trailing
    closing = make()
    assert (
        closing.feed(b"HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 0\r\n\r\n") == 503
    )
    assert not closing.keep_alive
