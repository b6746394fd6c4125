"""Make the README's screenshot with the app itself.

Runs the demo (the bundled app under a local Gunicorn, with its light
traffic), lets the dashboard collect a minute of history, and saves Textual's
own SVG screenshot to ``assets/dashboard.svg`` (and a PNG beside it when
cairosvg is installed). Usage: ``python assets/make_screenshot.py [SECONDS]``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from gunicorn_tui.demo.server import start_demo_server
from gunicorn_tui.demo.traffic import DemoTraffic
from gunicorn_tui.monitor.monitor import Monitor, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from gunicorn_tui.sampling.local_instance import LaunchRecord
from gunicorn_tui.ui.app import GtuiApp

ASSETS = Path(__file__).resolve().parent
SIZE = (100, 30)


async def capture(seconds: float) -> Path:
    server = start_demo_server(workers=4)
    traffic = DemoTraffic(server.base_url, rate_per_s=10.0, burst_every_s=12.0, seed=7)
    launch = LaunchRecord(server.pid, server.argv, server.environment, server.cwd)
    monitor = Monitor(
        MonitorOptions(
            targets=(parse_target(f"pid:{server.pid}"),), use_docker=False, launched=(launch,)
        )
    )
    monitor.open()
    traffic.start()
    try:
        app = GtuiApp(monitor, refresh_s=1.0, subtitle=f"demo {server.base_url}")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(seconds)
            await pilot.press("s")  # sort by CPU, the busiest first
            await pilot.pause(1.5)
            path = ASSETS / "dashboard.svg"
            app.save_screenshot(filename=path.name, path=str(ASSETS))
    finally:
        traffic.stop()
        monitor.close()
        server.stop()
    return path


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    svg = asyncio.run(capture(seconds))
    print(f"wrote {svg}")
    try:
        import cairosvg  # type: ignore[import-untyped]
    except ImportError:
        return 0
    png = svg.with_suffix(".png")
    cairosvg.svg2png(url=str(svg), write_to=str(png))
    print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
