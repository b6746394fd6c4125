"""The ``?`` screen: keys, and how worker states are decided."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP_TEXT = """\
# gtui keys

| key | action |
|---|---|
| `?` | this help (Esc closes) |
| `/` | filter instances and workers (Enter keeps, Esc clears) |
| `s` | sort workers: pid, cpu, memory, state, age, heartbeat |
| `c` | configuration of the selected instance, with where each value comes from |
| `Enter` | drill into the selected instance's workers (Esc goes back) |
| `1`-`4` | tabs: workers, traffic (windows, sources, missing flags), endpoints, events |
| `t` | retune the selected instance (form, then the plan, then confirm) |
| `>` / `<` | one worker more / less, now |
| `R` | graceful reload (HUP) |
| `k` | kill the worker under the cursor (the master starts another) |
| `d` | Python stack of the worker under the cursor (py-spy; `r` again) |
| `.` | while paused: one sample (a replay: the next frame) |
| `,` `[` `]` | a replay's time cursor: back one frame, back ten, forward ten |
| `u` | revert to the configuration before the last retune |
| `P` | persist the running config (Sweep: the winner) to its source, diff first |
| `a` | advice for the selected instance, with its evidence; Enter prepares the retune |
| `C` / `m` | compare two epochs (`[` `]` pick A, `{` `}` pick B, `e` export, `a` guided A/B) |
| `w` | sweep: configs in a row under one load, ranked, then restored (`x` cancels, `e` exports) |
| `p` | pause / resume sampling |
| `+` / `-` | sample faster / slower |
| `q` | quit |

Every action shows its exact steps and commands first and runs only when
you confirm (`y`); a sweep runs when you press Start in its form.
`gtui --read-only` disables them all (and guided A/B and sweeps).

# Epochs

Every change of configuration (by gtui, or seen from outside) starts an
epoch, marked on every graph: its column in the warning colour with the
epoch number on top; the warm-up after it, left out of comparisons, muted.
On the Compare screen: `*` significant, `~` real but negligible, `n/d` not
enough data, `-` not measured; blank: no significant difference. In the
Retune form, `ctrl+b` runs a guided A/B under the load profile named there.

# Worker states

- **booting**: has not touched its heartbeat since the fork (importing the app).
- **stuck**: heartbeat older than 3/4 of `timeout`; the master kills it at `timeout`.
- **busy**: CPU >= 10% of a core; or, sync workers, serving a client connection
  (or heartbeat older than timeout/2 + 2 s); or, other classes, heartbeat older
  than 2.5 s (a blocked loop).
- **idle**: none of the above, with the evidence to say so.
- **unknown**: not enough evidence (first sample, or a remote daemon).

`n/a` means the figure could not be measured here; it is never shown as 0.
Columns: CPID is the pid inside the container, USS the memory only that
worker holds, Beat the heartbeat age, Conn client connections being served,
Req/s the worker's requests over the last 10 s and Busy% its time in
requests (both need `%(p)s`, Busy% also `%(D)s`, in the access-log format).
"OOM?" marks a worker ended by SIGKILL: the OOM killer sends it, but so can
an operator.
"""


class HelpScreen(ModalScreen[None]):
    """Keys and the state rule."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss_help", "Close", id="help.close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(HELP_TEXT)

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
