"""A Compose service with replicas is one row in the instance table, with
its replicas beneath and totals (recorded samples given Compose labels)."""

from __future__ import annotations

from dataclasses import replace

from gunicorn_tui.model.instances import ComposeMembership, InstanceSample
from gunicorn_tui.model.service_groups import group_instances
from gunicorn_tui.ui.app import GtuiApp
from gunicorn_tui.ui.widgets.instance_table import InstanceTable
from tests.ui.replay import ReplaySource, frames_from, recorded_instances
from tests.ui.test_dashboard import wait_frames


def _as_replicas(samples: tuple[InstanceSample, ...]) -> tuple[InstanceSample, ...]:
    out = []
    for number, sample in enumerate(samples, start=1):
        assert sample.container is not None
        compose = ComposeMembership("shop", "web", number)
        out.append(replace(sample, container=replace(sample.container, compose=compose)))
    return tuple(reversed(out))  # replica order comes from the labels, not the input


def test_grouping_keeps_order_and_sums() -> None:
    replicas = _as_replicas(recorded_instances())
    (group,) = group_instances(replicas)
    assert group.service == "shop/web" and group.key == "service:shop/web"
    assert [
        m.container.compose.number for m in group.members if m.container and m.container.compose
    ] == [1, 2]
    totals = group.totals()
    assert totals.replicas == 2
    assert totals.workers == sum(len(m.workers) for m in replicas)
    assert totals.memory_bytes == sum(m.totals.memory_bytes or 0 for m in replicas)
    # A lone replica is an ordinary row.
    assert [g.service for g in group_instances(replicas[:1])] == [None]


async def test_service_row_with_replicas_beneath() -> None:
    replicas = _as_replicas(recorded_instances())
    app = GtuiApp(ReplaySource(frames_from(replicas, 5)), refresh_s=10.0)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_frames(pilot, app, 2)
        table = app.query_one(InstanceTable)
        keys = table.row_keys
        assert keys[0] == "service:shop/web"
        assert keys[1:] == [m.key for m in group_instances(replicas)[0].members]
        assert "shop/web (2)" in table.row_text(keys[0])
        assert "└" in table.row_text(keys[1])
        # The cursor may rest on the service row; the header shows its first replica.
        table.focus()
        table.move_cursor_to(keys[0])
        await pilot.pause()
        await wait_frames(pilot, app, 3)
        assert app.selected_key == keys[0]
        shown = app.selected_sample()
        assert shown is not None and shown.key == keys[1]
        # An action from the service's row is refused with a pointer to the roll.
        screens = len(app.screen_stack)
        app.action_scale("+1")
        await pilot.pause()
        assert len(app.screen_stack) == screens and not app.slot.busy
        messages = [n.message for n in app._notifications]
        assert any("gtui retune shop/web" in m for m in messages), messages
        await pilot.press("down")
        await pilot.pause()
        assert app.selected_key == keys[1]
