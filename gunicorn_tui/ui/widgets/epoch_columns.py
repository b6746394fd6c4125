"""Where epochs fall on a graph's time axis.

Graphs draw samples, not times; this maps the tracker's
:class:`~gunicorn_tui.compare.epochs.EpochMark` list onto the samples shown:
the first sample at or after a change is the mark column (labelled with the
epoch's number), and samples before that epoch's warm-up ends are warm-up.
The first epoch ("started watching") is no change and gets no mark.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gunicorn_tui.compare.epochs import ChangeKind, EpochMark
from gunicorn_tui.ui.widgets.bar_graph import ColumnKind


@dataclass(frozen=True)
class GraphMarks:
    """Per sample: how to draw it; and the label of each mark, by sample index."""

    kinds: tuple[ColumnKind, ...]
    labels: dict[int, str]


NO_MARKS = GraphMarks((), {})


def mark_label(epoch_id: int) -> str:
    """One character naming an epoch on a graph (its number, last digit)."""
    return str(epoch_id % 10)


def epoch_columns(times: Sequence[float], marks: Sequence[EpochMark]) -> GraphMarks:
    """Kinds and labels for samples taken at ``times`` (ascending)."""
    changes = [mark for mark in marks if mark.kind is not ChangeKind.STARTED]
    if not times or not changes:
        return GraphMarks(tuple(ColumnKind.PLAIN for _ in times), {})
    kinds = [ColumnKind.PLAIN] * len(times)
    labels: dict[int, str] = {}
    for mark in changes:
        first = next((i for i, at in enumerate(times) if at >= mark.at), None)
        if first is None:
            continue  # the change is newer than the last sample drawn
        for index in range(first, len(times)):
            if times[index] >= mark.measured_from:
                break
            kinds[index] = max(kinds[index], ColumnKind.WARMUP)
        kinds[first] = ColumnKind.MARK
        labels[first] = mark_label(mark.epoch_id)
    return GraphMarks(tuple(kinds), labels)
