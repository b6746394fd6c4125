"""The lean transport against real servers on 127.0.0.1.

Real Gunicorn processes for what servers do right (keep-alive, HEAD, 204 and
304, chunked and large bodies, TLS, a Unix socket, ``Connection: close``, a
keep-alive timeout), and a raw scripted server for what they do wrong
(hanging up or resetting mid-response, closing a kept-alive connection under
a request, bytes nobody asked for). Gunicorn's access log gives each
request's remote port, which tells connections apart.

Most failure tests run through both ways in: httpx's interface
(``AsyncClient`` on ``handle_async_request``) and the driver's
``exchange``; both must fail the same way.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from gunicorn_tui.load.lean_transport import LeanTransport
from gunicorn_tui.load.outcome import ErrorKind, classify_exception
from tests.load.load_servers import LoadGunicorn, Reply, ScriptedServer, free_port

OK_BODY = b'{"ok": true}'
OK_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n" + OK_BODY
API = ("httpx", "exchange")

ScriptedFactory = Callable[..., ScriptedServer]


def _marker() -> str:
    return uuid.uuid4().hex[:12]


def _ports(server: LoadGunicorn, marker: str, count: int) -> set[str]:
    assert server.wait_for_entries(marker, count) == count
    return {entry[4] for entry in server.access_entries(marker)}


async def _fetch(api: str, transport: LeanTransport, url: str, timeout_s: float = 5.0) -> int:
    """GET ``url`` through ``api`` and read the whole body; the status."""
    if api == "httpx":
        response = await transport.handle_async_request(
            httpx.Request("GET", url, extensions={"timeout": httpx.Timeout(timeout_s).as_dict()})
        )
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response.status_code
    return await transport.exchange(transport.prepare("GET", url), timeout_s)


def _established_to(port: int) -> int:
    """This process's established TCP connections to 127.0.0.1:``port``."""
    return sum(
        1
        for conn in psutil.Process().net_connections(kind="tcp")
        if conn.raddr and conn.raddr.port == port and conn.status == psutil.CONN_ESTABLISHED
    )


# -- keep-alive and the connection limit, against Gunicorn ---------------------


async def test_keep_alive_reuses_one_connection(load_gunicorn: LoadGunicorn) -> None:
    marker = _marker()
    transport = LeanTransport()
    async with httpx.AsyncClient(transport=transport) as client:
        for _ in range(10):
            response = await client.get(f"{load_gunicorn.url}/fast?m={marker}")
            assert response.status_code == 200
            assert response.json()["ok"] is True
        for _ in range(10):
            prepared = transport.prepare("GET", f"{load_gunicorn.url}/fast?m={marker}")
            assert await transport.exchange(prepared, 5.0) == 200
    assert transport.connections_opened == 1
    assert len(_ports(load_gunicorn, marker, 20)) == 1


async def test_the_connection_limit_holds_and_waiters_take_turns(
    load_gunicorn: LoadGunicorn,
) -> None:
    marker = _marker()
    transport = LeanTransport(max_connections=3)
    async with httpx.AsyncClient(transport=transport) as client:
        started = time.monotonic()
        responses = await asyncio.gather(
            *(client.get(f"{load_gunicorn.url}/io?ms=100&m={marker}") for _ in range(12))
        )
        took = time.monotonic() - started
    assert [r.status_code for r in responses] == [200] * 12
    assert transport.connections_opened == 3
    assert len(_ports(load_gunicorn, marker, 12)) == 3
    assert took >= 0.39  # 12 requests of 100 ms, 3 at a time


async def test_a_request_that_waits_too_long_for_a_connection_gets_a_pool_timeout(
    load_gunicorn: LoadGunicorn,
) -> None:
    transport = LeanTransport(max_connections=1)
    async with httpx.AsyncClient(transport=transport) as client:
        slow = asyncio.ensure_future(client.get(f"{load_gunicorn.url}/io?ms=800"))
        await asyncio.sleep(0.2)
        with pytest.raises(httpx.PoolTimeout) as caught:
            await client.get(f"{load_gunicorn.url}/fast", timeout=httpx.Timeout(5.0, pool=0.2))
        assert classify_exception(caught.value) is ErrorKind.TIMEOUT
        assert (await slow).status_code == 200
        # The waiter that gave up left no slot behind: the connection is free.
        assert (await client.get(f"{load_gunicorn.url}/fast")).status_code == 200
        with pytest.raises(httpx.PoolTimeout):
            await asyncio.gather(
                transport.exchange(transport.prepare("GET", f"{load_gunicorn.url}/io?ms=800"), 5),
                transport.exchange(transport.prepare("GET", f"{load_gunicorn.url}/fast"), 0.2),
            )
    assert transport.connections_opened == 1


async def test_connections_of_several_origins_share_the_limit(
    load_gunicorn: LoadGunicorn, load_bodies_gunicorn: LoadGunicorn
) -> None:
    transport = LeanTransport(max_connections=1)
    for url in (f"{load_gunicorn.url}/fast", f"{load_bodies_gunicorn.url}/echo") * 2:
        assert await _fetch("exchange", transport, url) == 200
        assert transport.connections_open == 1
    # Each switch of origin closed the idle connection to make room.
    assert transport.connections_opened == 4
    await transport.aclose()


# -- responses without a body, and bodies of every framing ---------------------


async def test_head_204_and_304_have_no_body_and_keep_the_connection(
    load_gunicorn: LoadGunicorn,
) -> None:
    marker = _marker()
    url = load_gunicorn.url
    transport = LeanTransport()
    async with httpx.AsyncClient(transport=transport) as client:
        head = await client.head(f"{url}/fast?m={marker}")
        no_content = await client.get(f"{url}/status/204?m={marker}")
        not_modified = await client.get(f"{url}/status/304?m={marker}")
        after = await client.get(f"{url}/fast?m={marker}")
        head_status = await transport.exchange(
            transport.prepare("HEAD", f"{url}/fast?m={marker}"), 5
        )
        status_204 = await transport.exchange(
            transport.prepare("GET", f"{url}/status/204?m={marker}"), 5
        )
        last = await client.get(f"{url}/fast?m={marker}")
    assert (head.status_code, head.content) == (200, b"")
    assert int(head.headers["content-length"]) > 0  # the length a GET would get
    assert (no_content.status_code, no_content.content) == (204, b"")
    # Gunicorn keeps a 304's Content-Length; the body is still empty.
    assert (not_modified.status_code, not_modified.content) == (304, b"")
    assert not_modified.headers["content-length"] == "15"
    assert (head_status, status_204) == (200, 204)
    assert after.json()["ok"] is True and last.json()["ok"] is True
    assert transport.connections_opened == 1
    assert len(_ports(load_gunicorn, marker, 7)) == 1


async def test_chunked_bodies_arrive_whole_in_order_and_stream(
    load_bodies_gunicorn: LoadGunicorn,
) -> None:
    url = load_bodies_gunicorn.url
    expected = b"".join(bytes([ord("a") + i % 26]) * 2000 for i in range(30))
    transport = LeanTransport()
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get(f"{url}/chunked?n=30&size=2000&pause_ms=2")
        async with client.stream("GET", f"{url}/chunked?n=5&size=10&pause_ms=50") as streamed:
            pieces = [piece async for piece in streamed.aiter_raw()]
        status = await transport.exchange(transport.prepare("GET", f"{url}/chunked?n=3"), 5)
    assert response.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.headers
    assert response.content == expected
    assert b"".join(pieces) == b"a" * 10 + b"b" * 10 + b"c" * 10 + b"d" * 10 + b"e" * 10
    assert len(pieces) > 1  # handed on as they came, 50 ms apart
    assert status == 200
    assert transport.connections_opened == 1


async def test_a_body_closed_before_its_end_closes_its_connection_once(
    load_bodies_gunicorn: LoadGunicorn,
) -> None:
    url = load_bodies_gunicorn.url
    transport = LeanTransport(max_connections=2)
    async with httpx.AsyncClient(transport=transport) as client:
        for _ in range(3):
            async with client.stream("GET", f"{url}/chunked?n=5&size=10&pause_ms=50") as response:
                async for _piece in response.aiter_raw():
                    break  # the rest of the body is never read
            # The half-read connection cannot be reused: it was closed.
            assert transport.connections_open == 0
        gc.collect()  # finalises the abandoned body iterators
        assert transport.connections_open == 0
        pair = await asyncio.gather(*(client.get(f"{url}/echo") for _ in range(2)))
        assert [r.status_code for r in pair] == [200, 200]
        assert transport.connections_open == 2
    assert transport.connections_opened == 5


async def test_large_content_length_bodies_both_ways(load_bodies_gunicorn: LoadGunicorn) -> None:
    url = load_bodies_gunicorn.url
    size = 3 << 20
    expected = bytes(range(256)) * (size // 256)
    upload = bytes(reversed(range(256))) * 1200  # 300 KB: more than a socket buffer
    transport = LeanTransport()
    async with httpx.AsyncClient(transport=transport) as client:
        big = await client.get(f"{url}/big?bytes={size}")
        echo = await client.post(f"{url}/echo", content=upload)
        prepared = transport.prepare("PUT", f"{url}/echo", body=upload)
        statuses = [await transport.exchange(prepared, 10.0) for _ in range(2)]
        big_status = await transport.exchange(
            transport.prepare("GET", f"{url}/big?bytes={size}"), 10
        )
    assert big.headers["content-length"] == str(size)
    assert hashlib.sha256(big.content).digest() == hashlib.sha256(expected).digest()
    assert echo.content == upload
    assert echo.headers["x-method"] == "POST"
    assert echo.headers["x-host"] == url.removeprefix("http://")
    assert statuses == [200, 200] and big_status == 200
    assert transport.connections_opened == 1


async def test_prepared_requests_carry_method_host_headers_and_body(
    load_scripted_server_factory: ScriptedFactory,
) -> None:
    server = load_scripted_server_factory(*[Reply(OK_RESPONSE)] * 3)
    transport = LeanTransport()
    prepared = transport.prepare(
        "POST", f"{server.url}/items/{{n}}", headers=[("X-Kind", "a")], body=b'{"a": 1}'
    )
    for target in ("/items/1", "/items/2?q=x", "/ítems/3"):
        assert await transport.exchange(prepared.with_target(target), 5.0) == 200
    await transport.aclose()
    sent = server.requests[0]
    assert [request.split(b"\r\n")[0] for request in sent] == [
        b"POST /items/1 HTTP/1.1",
        b"POST /items/2?q=x HTTP/1.1",
        b"POST /%C3%ADtems/3 HTTP/1.1",
    ]
    for request in sent:
        head, _, body = request.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")[1:]
        assert lines == [
            f"Host: 127.0.0.1:{server.port}".encode(),
            b"X-Kind: a",
            b"Content-Length: 8",
        ]
        assert body == b'{"a": 1}'
    with pytest.raises(httpx.LocalProtocolError):
        prepared.with_target("/a b")


async def test_prepare_adds_what_httpx_adds_and_no_more(
    load_scripted_server_factory: ScriptedFactory,
) -> None:
    server = load_scripted_server_factory(*[Reply(OK_RESPONSE)] * 3)
    transport = LeanTransport()
    for prepared in (
        transport.prepare("POST", f"{server.url}/empty"),
        transport.prepare("GET", f"{server.url}/named", headers=[("Host", "example.test")]),
        transport.prepare("GET", "http://127.0.0.1:80/default-port"),
    ):
        if prepared.origin[2] == 80:
            head = prepared.event.headers.raw_items()
            assert head == [(b"Host", b"127.0.0.1")]  # no default port in Host
            continue
        assert await transport.exchange(prepared, 5.0) == 200
    await transport.aclose()
    heads = [request.split(b"\r\n")[1:-2] for request in server.requests[0]]
    assert heads == [
        [f"Host: 127.0.0.1:{server.port}".encode(), b"Content-Length: 0"],
        [b"Host: example.test"],
    ]


# -- connections the server ends -------------------------------------------------


async def test_a_connection_gunicorn_closed_while_idle_is_replaced_not_failed(
    load_gunicorn_factory: Callable[..., LoadGunicorn],
) -> None:
    server = load_gunicorn_factory(extra_args=("--keep-alive", "1"))
    marker = _marker()
    transport = LeanTransport()
    async with httpx.AsyncClient(transport=transport) as client:
        first = await client.get(f"{server.url}/fast?m={marker}")
        # gthread closes connections idle for more than 1 s, checking about
        # once a second.
        await asyncio.sleep(2.5)
        second = await client.get(f"{server.url}/fast?m={marker}")
    assert (first.status_code, second.status_code) == (200, 200)
    assert transport.connections_opened == 2
    assert len(_ports(server, marker, 2)) == 2


@pytest.mark.parametrize("api", API)
async def test_a_connection_closed_while_idle_is_replaced_even_after_unasked_bytes(
    api: str, load_scripted_server_factory: ScriptedFactory
) -> None:
    # The server answers, then after 0.1 s idle says 408 unasked and hangs up.
    timeout_408 = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    reply = Reply(OK_RESPONSE, then="close_later", idle_s=0.1, unasked=timeout_408)
    server = load_scripted_server_factory(reply)
    transport = LeanTransport()
    assert await _fetch(api, transport, f"{server.url}/a") == 200
    await asyncio.sleep(0.5)
    assert await _fetch(api, transport, f"{server.url}/b") == 200
    await transport.aclose()
    assert transport.connections_opened == 2
    assert [len(requests) for requests in server.requests] == [1, 1]


@pytest.mark.parametrize("api", API)
async def test_bytes_sent_beyond_a_response_retire_the_connection(
    api: str, load_scripted_server_factory: ScriptedFactory
) -> None:
    stray = OK_RESPONSE + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray"
    server = load_scripted_server_factory(Reply(stray), Reply(OK_RESPONSE))
    transport = LeanTransport()
    assert await _fetch(api, transport, f"{server.url}/a") == 200
    assert await _fetch(api, transport, f"{server.url}/b") == 200
    await transport.aclose()
    # The stray response was not taken for /b's: /b went on a new connection.
    assert transport.connections_opened == 2


@pytest.mark.parametrize("api", API)
async def test_a_kept_alive_connection_closed_under_a_request_fails_it_without_a_retry(
    api: str, load_scripted_server_factory: ScriptedFactory
) -> None:
    # Answers the first request, reads the second and hangs up.
    server = load_scripted_server_factory(Reply(OK_RESPONSE))
    transport = LeanTransport()
    assert await _fetch(api, transport, f"{server.url}/a") == 200
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response") as caught:
        await _fetch(api, transport, f"{server.url}/b")
    assert classify_exception(caught.value) is ErrorKind.PROTOCOL
    assert await _fetch(api, transport, f"{server.url}/c") == 200
    await transport.aclose()
    targets = [[request.split(b" ")[1] for request in conn] for conn in server.requests]
    assert targets == [[b"/a", b"/b"], [b"/c"]]  # /b was sent once, never again


@pytest.mark.parametrize("api", API)
def test_connection_close_answers_open_a_connection_each(
    api: str, load_gunicorn_factory: Callable[..., LoadGunicorn]
) -> None:
    # Sync workers answer with "Connection: close".
    server = load_gunicorn_factory(worker_class="sync", workers=1, threads=1)
    marker = _marker()

    async def run() -> LeanTransport:
        transport = LeanTransport()
        for _ in range(5):
            assert await _fetch(api, transport, f"{server.url}/fast?m={marker}") == 200
        assert transport.connections_open == 0
        await transport.aclose()
        return transport

    transport = asyncio.run(run())
    assert transport.connections_opened == 5
    assert len(_ports(server, marker, 5)) == 5


# -- servers that break off -----------------------------------------------------------


@pytest.mark.parametrize("api", API)
@pytest.mark.parametrize(
    ("reply", "message"),
    [
        pytest.param(
            Reply(b"", then="close"), "without sending a response", id="hangs-up-unanswered"
        ),
        pytest.param(
            Reply(b"HTTP/1.1 200 OK\r\nContent-", then="close"),
            "peer unexpectedly closed",
            id="mid-head",
        ),
        pytest.param(
            Reply(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part", then="close"),
            "received 9 bytes, expected 100",
            id="mid-content-length-body",
        ),
        pytest.param(
            Reply(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nab",
                then="close",
            ),
            "incomplete chunked read",
            id="mid-chunked-body",
        ),
        pytest.param(
            Reply(b"HELLO THERE\r\n\r\n", then="close"), "illegal status line", id="not-http"
        ),
    ],
)
async def test_a_server_that_breaks_off_is_a_protocol_error(
    api: str, reply: Reply, message: str, load_scripted_server_factory: ScriptedFactory
) -> None:
    server = load_scripted_server_factory(reply)
    transport = LeanTransport()
    with pytest.raises(httpx.RemoteProtocolError, match=message) as caught:
        await _fetch(api, transport, f"{server.url}/a")
    assert classify_exception(caught.value) is ErrorKind.PROTOCOL
    assert transport.connections_open == 0
    await transport.aclose()


@pytest.mark.parametrize("api", API)
async def test_a_reset_mid_response_is_a_read_error(
    api: str, load_scripted_server_factory: ScriptedFactory
) -> None:
    reply = Reply(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart", then="reset")
    server = load_scripted_server_factory(reply)
    transport = LeanTransport()
    with pytest.raises(httpx.ReadError) as caught:
        await _fetch(api, transport, f"{server.url}/a")
    assert isinstance(caught.value.__cause__, ConnectionResetError)
    assert classify_exception(caught.value) is ErrorKind.PROTOCOL
    assert transport.connections_open == 0


# -- timeouts, refusals, cancellation -------------------------------------------------


@pytest.mark.parametrize("api", API)
async def test_a_slow_response_times_out_and_its_connection_is_dropped(
    api: str, load_gunicorn: LoadGunicorn
) -> None:
    transport = LeanTransport()
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout) as caught:
        await _fetch(api, transport, f"{load_gunicorn.url}/io?ms=3000", timeout_s=0.3)
    assert time.monotonic() - started < 1.5
    assert classify_exception(caught.value) is ErrorKind.TIMEOUT
    assert transport.connections_open == 0
    # The late answer must not be read as the next request's.
    assert await _fetch(api, transport, f"{load_gunicorn.url}/status/201") == 201
    assert transport.connections_opened == 2
    await transport.aclose()


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


@pytest.mark.parametrize("api", API)
async def test_a_connection_that_never_completes_is_a_connect_timeout(
    api: str, full_listener: int
) -> None:
    transport = LeanTransport()
    started = time.monotonic()
    with pytest.raises(httpx.ConnectTimeout) as caught:
        await _fetch(api, transport, f"http://127.0.0.1:{full_listener}/", timeout_s=0.3)
    assert time.monotonic() - started < 1.5
    assert classify_exception(caught.value) is ErrorKind.TIMEOUT
    assert transport.connections_open == 0


@pytest.mark.parametrize("api", API)
async def test_a_refused_connection(api: str) -> None:
    transport = LeanTransport()
    with pytest.raises(httpx.ConnectError) as caught:
        await _fetch(api, transport, f"http://127.0.0.1:{free_port()}/")
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)
    assert classify_exception(caught.value) is ErrorKind.CONNECT_REFUSED
    assert transport.connections_open == 0


@pytest.mark.parametrize("api", API)
async def test_a_cancelled_request_gives_its_slot_back_and_its_connection_is_cut(
    api: str, load_gunicorn: LoadGunicorn
) -> None:
    transport = LeanTransport(max_connections=1)
    slow = asyncio.ensure_future(_fetch(api, transport, f"{load_gunicorn.url}/io?ms=3000"))
    await asyncio.sleep(0.3)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    assert transport.connections_open == 0
    assert await _fetch(api, transport, f"{load_gunicorn.url}/fast", timeout_s=5.0) == 200
    assert transport.connections_opened == 2
    await transport.aclose()


# -- TLS and Unix sockets -----------------------------------------------------------------


async def test_tls_with_a_self_signed_certificate(
    load_gunicorn_factory: Callable[..., LoadGunicorn], load_tls_files: tuple[Path, Path]
) -> None:
    cert, key = load_tls_files
    server = load_gunicorn_factory(certfile=cert, keyfile=key)
    assert server.url.startswith("https://")
    marker = _marker()
    insecure = LeanTransport(verify=False)
    async with httpx.AsyncClient(transport=insecure) as client:
        for _ in range(5):
            assert (await client.get(f"{server.url}/fast?m={marker}")).status_code == 200
        prepared = insecure.prepare("GET", f"{server.url}/fast?m={marker}")
        assert await insecure.exchange(prepared, 5.0) == 200
    assert insecure.connections_opened == 1
    assert len(_ports(server, marker, 6)) == 1

    for api in API:
        strict = LeanTransport()  # verify=True: the self-signed certificate is refused
        with pytest.raises(httpx.ConnectError) as caught:
            await _fetch(api, strict, f"{server.url}/fast")
        assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)
        assert classify_exception(caught.value) is ErrorKind.TLS

    # Verification is real: with the certificate trusted, it is accepted.
    trusting = LeanTransport(verify=ssl.create_default_context(cafile=str(cert)))
    assert await _fetch("exchange", trusting, f"{server.url}/fast") == 200
    await trusting.aclose()


@pytest.mark.parametrize("api", API)
async def test_https_to_a_plain_http_port_is_a_tls_error(
    api: str, load_gunicorn: LoadGunicorn
) -> None:
    transport = LeanTransport(verify=False)
    with pytest.raises(httpx.ConnectError) as caught:
        await _fetch(api, transport, load_gunicorn.url.replace("http://", "https://") + "/fast")
    assert classify_exception(caught.value) is ErrorKind.TLS


async def test_a_unix_socket(
    load_gunicorn_factory: Callable[..., LoadGunicorn], tmp_path_factory: pytest.TempPathFactory
) -> None:
    socket_path = tmp_path_factory.mktemp("sock") / "g.sock"
    server = load_gunicorn_factory(bind=f"unix:{socket_path}")
    transport = LeanTransport(uds=str(socket_path))
    async with httpx.AsyncClient(transport=transport) as client:
        for _ in range(3):
            assert (await client.get("http://localhost/fast")).status_code == 200
    assert await _fetch("exchange", LeanTransport(uds=str(socket_path)), "http://localhost/") == 200
    assert transport.connections_opened == 1
    assert server.process.poll() is None


# -- closing ------------------------------------------------------------------------------


async def test_aclose_closes_idle_connections_and_refuses_new_requests(
    load_gunicorn: LoadGunicorn,
) -> None:
    port = int(load_gunicorn.url.rsplit(":", 1)[1])
    before = _established_to(port)
    transport = LeanTransport(max_connections=4)
    urls = [f"{load_gunicorn.url}/io?ms=50"] * 4
    assert await asyncio.gather(*(_fetch("exchange", transport, url) for url in urls)) == [200] * 4
    assert _established_to(port) == before + 4
    await transport.aclose()
    assert transport.connections_open == 0
    assert _established_to(port) == before
    with pytest.raises(RuntimeError, match="closed"):
        await _fetch("exchange", transport, urls[0])


async def test_probe_opens_and_closes_one_connection_and_reports_refusals(
    load_gunicorn: LoadGunicorn,
) -> None:
    transport = LeanTransport()
    await transport.probe(load_gunicorn.url, 2.0)
    assert transport.connections_opened == 1
    assert transport.connections_open == 0
    with pytest.raises(httpx.ConnectError):
        await transport.probe(f"http://127.0.0.1:{free_port()}", 2.0)


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_connections"):
        LeanTransport(max_connections=0)
