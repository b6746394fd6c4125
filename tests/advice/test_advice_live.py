"""The advice's truth on real containers under real load.

A CPU-bound endpoint in a container allowed one CPU (``--cpus 1``) gets
"do not add workers beyond the guideline"; an I/O-bound endpoint with its
sync workers saturated gets the thread/async advice. The machine is shared:
the CPU-bound case must hold whether the container gets its whole CPU or
waits for it (both are CPU-bound; see the run-queue wait in observation.py).
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from gunicorn_tui.advice.collect import observe_and_advise
from gunicorn_tui.advice.items import AdviceKind
from gunicorn_tui.control.engine import ControlEngine
from gunicorn_tui.control.planning.requests import RetuneRequest
from gunicorn_tui.load.driver import LoadRun
from gunicorn_tui.load.profile import parse_profile_text
from gunicorn_tui.load.target import LoadTarget
from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.monitor.monitor import Monitor, MonitorFrame, MonitorOptions
from gunicorn_tui.monitor.targets import parse_target
from tests.control.helpers import gunicorn_container
from tests.harness.containers import ContainerFactory
from tests.images import tags

pytestmark = pytest.mark.slow

ACCESS = (
    "--access-logfile",
    "-",
    "--access-logformat",
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s %(p)s',
)


def _profile(path: str, concurrency: int) -> str:
    return (
        f'[run]\nmode = "closed"\nconcurrency = {concurrency}\nduration_s = 30\n'
        f'connections = {concurrency}\n[[request]]\npath = "{path}"\n'
    )


def _advise_under_load(name: str, port: int, profile_text: str) -> dict[str, object]:
    monitor = Monitor(MonitorOptions(targets=(parse_target(name),), statsd_address=None))
    monitor.open(wait_for_docker_s=15.0)
    run = LoadRun(
        parse_profile_text(profile_text, source="truth"), LoadTarget(f"http://127.0.0.1:{port}")
    ).start()
    try:
        monitor.sample()

        def select(frame: MonitorFrame) -> InstanceSample | None:
            return frame.instances[0] if frame.instances else None

        # Let the load reach its steady state before the window opens.
        observe_and_advise(monitor.sample, select, duration_s=4.0)
        engine = ControlEngine(read_only=True, docker_client=monitor.watcher.client)  # type: ignore[union-attr]

        def probe(sample: InstanceSample, modules: tuple[str, ...]) -> Mapping[str, bool]:
            return engine.facts(sample, modules).modules

        report = observe_and_advise(monitor.sample, select, duration_s=12.0, probe_classes=probe)
    finally:
        run.stop()
        run.join(15.0)
        monitor.close()
    assert report is not None
    return {item.rule: item for item in report.items} | {"_report": report}


def test_a_cpu_bound_endpoint_with_one_cpu_is_told_not_to_add_workers(
    container_factory: ContainerFactory,
) -> None:
    container, port = gunicorn_container(
        container_factory, tags.GUNICORN_LATEST, "-w", "3", *ACCESS, nano_cpus=1_000_000_000
    )
    items = _advise_under_load(container.name or "", port, _profile("/cpu?ms=20", 6))
    report = items["_report"]
    caution = items.get("cpu-bound")
    assert caution is not None, report
    assert caution.kind is AdviceKind.CAUTION  # type: ignore[attr-defined]
    assert "do not add workers beyond the guideline (3)" in caution.title  # type: ignore[attr-defined]
    assert "io-bound" not in items, report
    assert report.capacity.cpu.usable_cpus == 1.0  # type: ignore[attr-defined]
    assert report.capacity.cpu.limited_by == "quota"  # type: ignore[attr-defined]


def test_an_io_bound_endpoint_with_saturated_sync_workers_gets_threads(
    container_factory: ContainerFactory,
) -> None:
    container, port = gunicorn_container(
        container_factory, tags.GUNICORN_LATEST, "-w", "2", *ACCESS
    )
    items = _advise_under_load(container.name or "", port, _profile("/io?ms=200", 8))
    report = items["_report"]
    advice = items.get("io-bound")
    assert advice is not None, report
    assert advice.kind is AdviceKind.SUGGESTION  # type: ignore[attr-defined]
    assert advice.retune == RetuneRequest(worker_class="gthread", threads=4)  # type: ignore[attr-defined]
    # gevent is installed in this image, so the async option is offered too.
    assert "io-bound-async" in items
    assert "cpu-bound" not in items, report
