"""Access-log lines rendered by Gunicorn's own code.

``render_line`` runs the very functions a live server runs for each request
(``gunicorn.glogging.Logger.atoms`` and ``SafeAtoms``, then ``format %
atoms``), on a request described by :class:`FakeExchange`. Tests use it to
check the parser against Gunicorn's real escaping with values a live server
would rarely produce; benchmarks use it to make many varied lines quickly.
Live-server captures are made separately (see ``tests/traffic/live_gunicorn.py``).
"""

from __future__ import annotations

import datetime
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from gunicorn.config import Config
from gunicorn.glogging import Logger, SafeAtoms

_LOGGER = Logger(Config())


@dataclass
class FakeExchange:
    """One request and response, as Gunicorn's atoms() reads them."""

    method: str = "GET"
    raw_uri: str = "/"
    path_info: str = "/"
    query_string: str = ""
    protocol: str = "HTTP/1.1"
    remote_addr: str = "127.0.0.1"
    status: str = "200 OK"
    sent: int | None = 27
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    extra_environ: dict[str, Any] = field(default_factory=dict)
    duration: datetime.timedelta = datetime.timedelta(microseconds=1234)


class _Response:
    def __init__(self, exchange: FakeExchange) -> None:
        self.status = exchange.status
        self.sent = exchange.sent
        self.headers = exchange.response_headers


class _Request:
    def __init__(self, exchange: FakeExchange) -> None:
        self.headers = exchange.request_headers


def render_line(access_log_format: str, exchange: FakeExchange) -> str:
    """The access-log line Gunicorn would write for ``exchange``."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": exchange.method,
        "RAW_URI": exchange.raw_uri,
        "PATH_INFO": exchange.path_info,
        "QUERY_STRING": exchange.query_string,
        "SERVER_PROTOCOL": exchange.protocol,
        "REMOTE_ADDR": exchange.remote_addr,
    }
    for name, value in exchange.request_headers:
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    environ.update(exchange.extra_environ)
    atoms = _LOGGER.atoms(_Response(exchange), _Request(exchange), environ, exchange.duration)
    return str(access_log_format % SafeAtoms(atoms))


_AGENTS = (
    "curl/8.5.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "python-httpx/0.28.1",
    "hey/0.0.1",
)


def random_exchange(rng: random.Random) -> FakeExchange:
    """A plausible request: mixed methods, ids in paths, statuses, agents."""
    kind = rng.randrange(5)
    if kind == 0:
        path = f"/items/{rng.randrange(1, 10**6)}"
    elif kind == 1:
        path = f"/api/v1/users/{uuid.UUID(int=rng.getrandbits(128))}/orders"
    elif kind == 2:
        path = "/fast"
    elif kind == 3:
        path = "/cpu"
    else:
        path = f"/status/{rng.choice((200, 404, 500, 503))}"
    query = rng.choice(("", "", "ms=20", "page=2&sort=name"))
    raw_uri = path + ("?" + query if query else "")
    headers = [("User-Agent", rng.choice(_AGENTS)), ("Host", "127.0.0.1:8000")]
    if rng.random() < 0.3:
        headers.append(("Referer", "http://127.0.0.1:8000/index.html"))
    return FakeExchange(
        method=rng.choice(("GET", "GET", "GET", "POST", "PUT", "DELETE")),
        raw_uri=raw_uri,
        path_info=path,
        query_string=query,
        status=rng.choice(("200 OK", "200 OK", "200 OK", "404 Not Found", "500 Error")),
        sent=rng.randrange(0, 50_000),
        request_headers=headers,
        duration=datetime.timedelta(microseconds=rng.randrange(50, 3_000_000)),
    )


def render_lines(access_log_format: str, count: int, seed: int = 0) -> list[str]:
    """``count`` varied lines in ``access_log_format``."""
    rng = random.Random(seed)
    distinct = [render_line(access_log_format, random_exchange(rng)) for _ in range(2000)]
    return [distinct[index % len(distinct)] for index in range(count)]
