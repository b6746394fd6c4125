"""Write a comparison to files for a review: Markdown, JSON, and a screenshot.

The Markdown and JSON are :mod:`gunicorn_tui.compare.report`'s; the
screenshot is whatever SVG text the caller passes (the dashboard passes its
own screen). Names share one stem, ``gtui-compare-<instance>-e<A>-e<B>-
<local time>``, and never overwrite a file: a stem already taken gets
``-2``, ``-3``... Each file is written to a temporary name and renamed, so
a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gunicorn_tui.compare.comparison import EpochComparison
from gunicorn_tui.compare.report import comparison_json, comparison_markdown

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_STEM_TRIES = 1000


class ExportError(Exception):
    """The files could not be written (the message says where and why)."""


@dataclass(frozen=True)
class ExportedFiles:
    """The paths written."""

    markdown_path: Path
    json_path: Path
    svg_path: Path | None

    @property
    def paths(self) -> tuple[Path, ...]:
        """Every path written, Markdown first."""
        return tuple(p for p in (self.markdown_path, self.json_path, self.svg_path) if p)


def default_export_directory() -> Path:
    """Where exports go unless told: the current directory, where the
    operator runs gtui and looks for its output."""
    return Path.cwd()


def export_stem(instance_label: str, comparison: EpochComparison, at: float) -> str:
    """``gtui-compare-web-1-e2-e3-20240501-142233``: safe in any file system."""
    instance = _UNSAFE.sub("-", instance_label).strip("-.")[:40] or "instance"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(at))
    return (
        f"gtui-compare-{instance}-e{comparison.before.epoch_id}-"
        f"e{comparison.after.epoch_id}-{stamp}"
    )


def _free_stem(directory: Path, stem: str, suffixes: Sequence[str]) -> str:
    for attempt in range(1, _MAX_STEM_TRIES + 1):
        candidate = stem if attempt == 1 else f"{stem}-{attempt}"
        if not any((directory / f"{candidate}{suffix}").exists() for suffix in suffixes):
            return candidate
    raise ExportError(f"{directory}: {_MAX_STEM_TRIES} exports named {stem} already")


def _write(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise


def write_texts(directory: Path, stem: str, texts: Mapping[str, str]) -> dict[str, Path]:
    """Write each ``suffix -> text`` of ``texts`` as ``stem`` + suffix into
    ``directory`` (created if needed), under a stem no file takes yet.
    All or nothing: raises :class:`ExportError` after removing what was written."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ExportError(f"cannot create {directory}: {error.strerror or error}") from error
    if not directory.is_dir():
        raise ExportError(f"{directory} is not a directory")
    free = _free_stem(directory, stem, tuple(texts))
    written: dict[str, Path] = {}
    try:
        for suffix, text in texts.items():
            path = directory / f"{free}{suffix}"
            _write(path, text)
            written[suffix] = path
    except OSError as error:
        for path in written.values():
            path.unlink(missing_ok=True)
        raise ExportError(f"cannot write into {directory}: {error.strerror or error}") from error
    return written


def write_comparison(
    comparison: EpochComparison,
    directory: Path,
    stem: str,
    *,
    svg: str | None = None,
    title: str = "gtui comparison",
    extra_lines: Sequence[str] = (),
    extra_json: Mapping[str, Any] | None = None,
) -> ExportedFiles:
    """Write ``stem``.md, ``stem``.json (and ``stem``.svg when ``svg`` is
    given) into ``directory``, creating it if needed. Raises
    :class:`ExportError` when anything cannot be written; files written
    before the failure are removed, so an export is all or nothing."""
    texts = {
        ".md": comparison_markdown(comparison, title=title, extra_lines=extra_lines),
        ".json": json.dumps(comparison_json(comparison, extra=extra_json), indent=2) + "\n",
    }
    if svg is not None:
        texts[".svg"] = svg
    written = write_texts(directory, stem, texts)
    return ExportedFiles(
        markdown_path=written[".md"], json_path=written[".json"], svg_path=written.get(".svg")
    )
