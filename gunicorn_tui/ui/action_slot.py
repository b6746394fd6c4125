"""One long operation at a time on the dashboard.

A retune (planned, confirmed, run), a guided A/B and a sweep each change a
server and may not overlap: every launcher takes the one :class:`ActionSlot`
before it starts and gives it back when it is over, so a second start is
refused the same way, with one notice, whichever runs. The slot also says
what the app needs to know about what holds it: whether it samples the
dashboard's source (the dashboard's own sampler then waits), whether it
changes a server now (quitting asks first), and a word for the status line.

Used from the UI thread only (launchers take and give it back there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

BUSY_NOTICE = "A retune, an A/B or a sweep is already running: wait for it to end."


@dataclass(frozen=True)
class _Holder:
    label: str
    status: str
    samples_source: bool
    changing: bool


class ActionSlot:
    """Held by at most one operation; ``refused`` shows the busy notice."""

    def __init__(self, refused: Callable[[str], None]) -> None:
        self._refused = refused
        self._holder: _Holder | None = None

    @property
    def busy(self) -> bool:
        """Whether an operation holds the slot."""
        return self._holder is not None

    @property
    def running_label(self) -> str | None:
        """What holds the slot ("Retune web-1", "a guided A/B", "a sweep")."""
        return self._holder.label if self._holder is not None else None

    @property
    def changing_label(self) -> str | None:
        """What holds the slot, once it changes a server (not while an
        action is only planned or confirmed): quitting asks first."""
        holder = self._holder
        return holder.label if holder is not None and holder.changing else None

    @property
    def status(self) -> str:
        """The status line's words for what holds the slot ("" for none)."""
        return self._holder.status if self._holder is not None else ""

    @property
    def lends_sampling(self) -> bool:
        """Whether what holds the slot samples the dashboard's source (the
        dashboard's own sampler waits meanwhile)."""
        return self._holder is not None and self._holder.samples_source

    def refuse_if_busy(self) -> bool:
        """True, with the busy notice shown, when an operation holds the slot."""
        if self._holder is not None:
            self._refused(BUSY_NOTICE)
            return True
        return False

    def try_begin(
        self,
        label: str,
        *,
        status: str = "",
        samples_source: bool = False,
        changing: bool = True,
    ) -> bool:
        """Take the slot for ``label``; False, with the busy notice shown,
        when it is held. ``status``: words for the status line while it runs;
        ``samples_source``: it samples the dashboard's source; ``changing``:
        it changes a server from the start (else from :meth:`now_changing`)."""
        if self.refuse_if_busy():
            return False
        self._holder = _Holder(label, status, samples_source, changing)
        return True

    def now_changing(self) -> None:
        """What holds the slot starts changing a server (a confirmed plan runs)."""
        if self._holder is not None:
            self._holder = replace(self._holder, changing=True)

    def end(self) -> None:
        """Give the slot back: the operation is over."""
        self._holder = None
