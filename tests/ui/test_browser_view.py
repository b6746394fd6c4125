"""``gtui serve``: the dashboard in a real headless Chromium (Debian's
``chromium``, driven by Playwright), on a real demo server.

The terminal in the page is drawn on a canvas, so what it shows is read
from what the page received: an init script keeps the bytes of the
terminal's websocket, and the test looks for the dashboard's words in them
(escape sequences removed). Every request the page makes is checked to go
to 127.0.0.1. Set GTUI_BROWSER_SCREENSHOT=PATH to keep the page's screenshot
(assets/browser-view.png is made that way).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from gunicorn_tui.demo.server import DemoServer, start_demo_server
from gunicorn_tui.demo.traffic import DemoTraffic
from tests.harness.loopback import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

# Keeps the text of every binary websocket message the page receives.
RECORD_TERMINAL = """
window.__gtuiText = "";
const Native = window.WebSocket;
window.WebSocket = function (url, protocols) {
  const socket = protocols === undefined ? new Native(url) : new Native(url, protocols);
  socket.addEventListener("message", (event) => {
    if (event.data instanceof ArrayBuffer) {
      window.__gtuiText += new TextDecoder().decode(new Uint8Array(event.data));
    } else if (event.data instanceof Blob) {
      event.data.text().then((text) => { window.__gtuiText += text; });
    }
  });
  return socket;
};
window.WebSocket.prototype = Native.prototype;
Object.assign(window.WebSocket, Native);
"""
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]|\x1b\][^\x07]*\x07")


@pytest.fixture
def demo_server() -> Iterator[DemoServer]:
    # With its StatsD and light traffic, as `gtui demo` runs it, so the page
    # has request figures to show.
    statsd_port = free_port_udp()
    server = start_demo_server(workers=2, statsd_port=statsd_port)
    server.statsd_port = statsd_port  # type: ignore[attr-defined]
    traffic = DemoTraffic(server.base_url)
    traffic.start()
    try:
        yield server
    finally:
        traffic.stop()
        server.stop()


def free_port_udp() -> int:
    import socket

    from gunicorn_tui.demo.server import free_port

    return free_port(socket.SOCK_DGRAM)


def _serve(*args: str) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn_tui", "serve", "--port", str(port), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return process, port
        except urllib.error.HTTPError:
            return process, port  # it answers (a token may be wanted)
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                out = process.stdout.read() if process.stdout else ""
                raise AssertionError(f"gtui serve did not start: {out}") from None
            time.sleep(0.2)


def _stop(process: subprocess.Popen[str]) -> None:
    # The server and the dashboards it started are in their own session.
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def test_the_browser_shows_the_dashboard_keys_work_actions_refused(
    demo_server: DemoServer,
) -> None:
    if not os.path.exists(CHROMIUM):
        reason = "Debian's chromium is not installed (.ci/run installs it)"
        if os.environ.get("CI") == "true" or os.environ.get("GTUI_REQUIRE_DOCKER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import Route, sync_playwright

    statsd = f"127.0.0.1:{demo_server.statsd_port}"  # type: ignore[attr-defined]
    process, port = _serve(f"pid:{demo_server.pid}", "--no-docker", "--statsd", statsd,
                           "--refresh", "0.5")  # fmt: skip
    outside: list[str] = []

    def only_loopback(route: Route) -> None:
        url = route.request.url
        if url.startswith((f"http://127.0.0.1:{port}/", f"ws://127.0.0.1:{port}/")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1280, "height": 760})
            page.route("**/*", only_loopback)
            page.add_init_script(RECORD_TERMINAL)
            page.goto(f"http://127.0.0.1:{port}/")

            def shown() -> str:
                return _ESCAPES.sub("", page.evaluate("window.__gtuiText"))

            def wait_for(words: tuple[str, ...], timeout_s: float = 30) -> str:
                deadline = time.monotonic() + timeout_s
                while time.monotonic() < deadline:
                    text = shown()
                    if all(word in text for word in words):
                        return text
                    page.wait_for_timeout(250)
                raise AssertionError(f"{words} not shown; the page got: {shown()[-3000:]}")

            # The dashboard on the demo: its master, its workers, read-only.
            workers = [str(c.pid) for c in psutil.Process(demo_server.pid).children()]
            wait_for((str(demo_server.pid), "read-only", "Workers", *workers))
            page.wait_for_timeout(6000)  # a few seconds of traffic on the graphs
            shot = page.screenshot()
            assert shot.startswith(b"\x89PNG")
            keep = os.environ.get("GTUI_BROWSER_SCREENSHOT")
            if keep:
                Path(keep).write_bytes(shot)

            # Keys reach the app: ? opens the help.
            page.click("#terminal")
            page.keyboard.press("?")
            wait_for(("this help",))
            page.keyboard.press("Escape")
            # A lone ESC byte is told from the start of a sequence by a pause.
            page.wait_for_timeout(1000)

            # An action is refused: > asks to add a worker, the plan says why not.
            before = len(psutil.Process(demo_server.pid).children())
            page.keyboard.press(">")
            wait_for(("refused", "read-only"))
            page.keyboard.press("y")
            page.wait_for_timeout(2000)
            assert len(psutil.Process(demo_server.pid).children()) == before
            browser.close()
    finally:
        _stop(process)
    assert outside == []


def test_beyond_loopback_needs_a_flag_and_then_a_token() -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "gunicorn_tui", "serve", "--host", "0.0.0.0", "--no-docker"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert refused.returncode == 2
    assert "refused without --allow-remote" in refused.stderr
    assert refused.stderr.count("\n") == 1

    # Allowed: a token is made, printed, and required (connecting through loopback).
    process, port = _serve("--host", "0.0.0.0", "--allow-remote", "--no-docker",
                           "--statsd", "off")  # fmt: skip
    try:
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
        assert denied.value.code == 403
        os.killpg(process.pid, signal.SIGTERM)
        out = process.communicate(timeout=15)[0]
        token = re.search(r"\?token=([\w-]+)", out)
        assert token, out
    finally:
        if process.poll() is None:
            _stop(process)

    process, port = _serve("--token", "s3cret", "--no-docker", "--statsd", "off")
    try:
        with pytest.raises(urllib.error.HTTPError) as wrong:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/?token=guess", timeout=5)
        assert wrong.value.code == 403
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/?token=s3cret", timeout=5)
        assert page.status == 200
        assert "gtui_token=s3cret" in page.headers["Set-Cookie"]
        html = page.read().decode()
        assert "fonts.googleapis.com" not in html  # nothing fetched from outside
        # Another site's page may not drive the dashboard (Origin checked).
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/ws",
            headers={"Origin": "http://evil.example", "Cookie": "gtui_token=s3cret",
                     "Connection": "Upgrade", "Upgrade": "websocket",
                     "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZQ=="},
        )  # fmt: skip
        with pytest.raises(urllib.error.HTTPError) as cross:
            urllib.request.urlopen(request, timeout=5)
        assert cross.value.code == 403
        # A Host that is not this machine (DNS rebinding) is refused.
        rebound = urllib.request.Request(
            f"http://127.0.0.1:{port}/?token=s3cret", headers={"Host": f"attacker.example:{port}"}
        )
        with pytest.raises(urllib.error.HTTPError) as misdirected:
            urllib.request.urlopen(rebound, timeout=5)
        assert misdirected.value.code == 421
    finally:
        _stop(process)
