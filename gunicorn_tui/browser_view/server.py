"""``gtui serve``: the dashboard in a browser, through textual-serve.

Each browser tab gets its own dashboard process (``gtui --read-only
dashboard ...`` unless actions were allowed). textual-serve itself has no
access control, so this server adds it:

* it listens on loopback only, unless the caller allowed more, and then only
  with a token (``?token=`` once, then a cookie);
* the Host header must name this server (no DNS rebinding), and the
  websocket's Origin must be this server (no other page may drive it);
* the page loads nothing from outside (textual-serve's page asks Google Fonts
  for a font; that link is dropped, the terminal falls back to a local font).
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from textual_serve.server import Server
from yarl import URL

TOKEN_COOKIE = "gtui_token"
_OUTSIDE_FONT = re.compile(r"<link[^>]*fonts\.googleapis\.com[^>]*/?>\s*", re.IGNORECASE)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class DashboardServer(Server):
    """textual-serve's server with the guards above."""

    def __init__(
        self,
        command: str,
        *,
        host: str,
        port: int,
        token: str | None,
        title: str,
        public_url: str | None = None,
    ) -> None:
        super().__init__(command, host=host, port=port, title=title, public_url=public_url)
        self.token = token
        self.loopback_only = is_loopback(host)

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        original = self.templates_path
        loader = jinja2.FunctionLoader(lambda name: _local_page(original / name))
        aiohttp_jinja2.setup(app, loader=loader)
        app.middlewares.append(self._guard)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.loopback_only and not is_loopback(URL(f"http://{request.host}").host or ""):
            raise web.HTTPMisdirectedRequest(text="gtui serve: this server is for loopback\n")
        origin = request.headers.get("Origin")
        if (
            request.path == "/ws"
            and origin is not None
            and origin.split("://", 1)[-1] != request.host
        ):
            raise web.HTTPForbidden(text="gtui serve: websocket from another origin\n")
        if self.token is None:
            return await handler(request)
        given = request.query.get("token") or request.cookies.get(TOKEN_COOKIE) or ""
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            raise web.HTTPForbidden(text="gtui serve: a token is needed (the URL gtui printed)\n")
        response = await handler(request)
        if request.query.get("token") and not response.prepared:
            response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="Strict")
        return response

    async def on_startup(self, app: web.Application) -> None:
        # textual-serve prints a logo; gtui prints its own line (cli/serve_command.py).
        return None


def _local_page(path: Any) -> str:
    """textual-serve's page without the font it would fetch from outside."""
    text = path.read_text(encoding="utf-8")
    return _OUTSIDE_FONT.sub("", text)
