"""Write a sweep's report to files: the Markdown and JSON of
:mod:`gunicorn_tui.sweep.report` and the plot of
:mod:`gunicorn_tui.sweep.plot_svg`, named and written like a comparison's
export (``gtui-sweep-<instance>-<local time>``, never overwriting, all or
nothing; see :mod:`gunicorn_tui.compare.export`)."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from gunicorn_tui.compare.export import write_texts
from gunicorn_tui.sweep.plot_svg import sweep_svg
from gunicorn_tui.sweep.report import sweep_json, sweep_markdown, winner_line
from gunicorn_tui.sweep.runner import SweepResult

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class SweepFiles:
    """The paths written."""

    markdown_path: Path
    json_path: Path
    svg_path: Path

    @property
    def paths(self) -> tuple[Path, Path, Path]:
        """Every path: Markdown, JSON, then the SVG plot."""
        return self.markdown_path, self.json_path, self.svg_path


def sweep_stem(instance_label: str, at: float) -> str:
    """``gtui-sweep-web-1-20240501-142233``: safe in any file system."""
    instance = _UNSAFE.sub("-", instance_label).strip("-.")[:40] or "instance"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(at))
    return f"gtui-sweep-{instance}-{stamp}"


def write_sweep(
    sweep: SweepResult, directory: Path, stem: str, *, instance_label: str
) -> SweepFiles:
    """Write ``stem``.md, ``stem``.json and ``stem``.svg into ``directory`` (created if
    needed). Raises :class:`~gunicorn_tui.compare.export.ExportError` when
    they cannot be written, leaving none behind."""
    document = {"instance": instance_label, **sweep_json(sweep)}
    written = write_texts(
        directory,
        stem,
        {
            ".md": sweep_markdown(sweep, title=f"gtui sweep: {instance_label}"),
            ".json": json.dumps(document, indent=2) + "\n",
            ".svg": sweep_svg(
                sweep, title=f"gtui sweep: {instance_label}", verdict=winner_line(sweep)
            ),
        },
    )
    return SweepFiles(written[".md"], written[".json"], written[".svg"])
