"""The selected instance's configuration, two lines."""

from __future__ import annotations

from textual.content import Content

from gunicorn_tui.discovery.reach import reach_of
from gunicorn_tui.model.instances import InstanceSample
from gunicorn_tui.output.units import format_duration
from gunicorn_tui.settings.resolve import short_worker_class
from gunicorn_tui.ui.widgets.safe_text import SafeStatic
from gunicorn_tui.ui.widgets.static_text import show_text


def _setting(sample: InstanceSample, name: str, unit: str = "") -> Content:
    setting = sample.config.get(name)
    if setting.value is None:
        return Content.styled("?", "$text-disabled")
    value = setting.value
    if name == "worker_class" and isinstance(value, str):
        value = short_worker_class(value)
    return Content.styled(f"{value}{unit}", "bold")


def _reach(sample: InstanceSample) -> Content:
    reach = reach_of(sample)
    if not reach.reachable:
        return Content.styled("none (--url)", "$warning")
    where = reach.url if reach.url is not None else f"unix:{reach.unix_socket_path}"
    return Content.assemble((where, "bold"), Content.styled(f" ({reach.how.value})", "$text-muted"))


def header_content(sample: InstanceSample, warning: str | None = None) -> Content:
    """Two lines: where and what, then the tuning."""
    where = sample.container.image if sample.container is not None else "host"
    version = sample.gunicorn_version or "?"
    uptime = format_duration(sample.master.age_s)
    current = len(sample.workers)
    target = sample.workers_target
    workers: Content = Content.styled(str(current), "bold")
    if target is not None and target != current:
        workers = Content.assemble(workers, Content.styled(f" → {target}", "$warning"))
    configured = sample.config.get("workers").value
    line_one = Content.assemble(
        (sample.label, "bold $accent"),
        f"  {where}  gunicorn {version}  up {uptime}",
        ("  API only: partial figures", "$warning") if sample.mode.value == "api" else "",
        (f"  {warning}", "$warning") if warning else "",
    )
    line_two = Content.assemble(
        "class ",
        _setting(sample, "worker_class"),
        "  workers ",
        workers,
        Content.styled(f" (config {configured})", "$text-muted")
        if configured is not None and configured != current
        else "",
        "  threads ",
        _setting(sample, "threads"),
        "  timeout ",
        _setting(sample, "timeout", "s"),
        "  bind ",
        _setting(sample, "bind"),
        "  reach ",
        _reach(sample),
    )
    return Content("\n").join([line_one, line_two])


class InstanceHeader(SafeStatic):
    """Shows :func:`header_content` for the selected instance."""

    DEFAULT_CSS = """
    InstanceHeader { height: 2; }
    """

    def show(self, sample: InstanceSample | None, warning: str | None = None) -> None:
        if sample is None:
            show_text(self, Content.styled("No Gunicorn instance selected", "$text-muted"))
        else:
            show_text(self, header_content(sample, warning))
