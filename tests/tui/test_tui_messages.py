"""Panes act by posting request messages; actions answer with typed results that the screen
that asked sees first and the app then shows (no pane calls the app)."""
from __future__ import annotations

import asyncio
import datetime as _dt
import json

from tui.app import PitwallApp
from tui.messages import CheckpointChosen, CheckpointRequested, ShowLogRequested

from tui_testing import make_run, wait_for


def test_checkpoint_choice_goes_pane_to_app_and_back_to_the_screen(tmp_path):
    root = tmp_path / "runs"
    run = make_run(root, "Pend", _dt.datetime(2026, 3, 14, 10, 0, 0))
    seen: list[tuple[str, str]] = []

    def hook(msg) -> None:             # what reaches the app
        if isinstance(msg, (CheckpointRequested, CheckpointChosen, ShowLogRequested)):
            seen.append((type(msg).__name__, type(msg._sender).__name__))

    async def scenario():
        app = PitwallApp(root, cursor_blink=False, tick=0.1, use_watchdog=False)
        async with app.run_test(size=(100, 30), message_hook=hook) as pilot:
            await wait_for(pilot, lambda: "Pend" in "".join(
                s.text for s in app.screen._compositor.render_strips()), what="run listed")
            app.open_run(run, "checkpoints")
            await wait_for(pilot, lambda: app.model.detail is not None and
                           app.model.detail.checkpoints.history, what="checkpoints")
            screen = app.screen
            chosen: list[CheckpointChosen] = []
            post = screen.post_message

            def spy(msg):                      # what is posted to the run view itself
                if isinstance(msg, CheckpointChosen):
                    chosen.append(msg)
                return post(msg)
            screen.post_message = spy
            await pilot.pause(0.3)
            table = screen.query_one("#ckpt-list")
            table.move_cursor(row=table._keys.index("ckpt_000010240.pth"))
            await pilot.press("enter")
            await wait_for(pilot, lambda: any(n == "CheckpointChosen" for n, _ in seen),
                           what="the result")
            state = json.loads((run / ".checkpoint_state.json").read_text())
            assert state["mode"] == "manual" and state["checkpoint_path"].endswith(
                "ckpt_000010240.pth")
            # the pane asked; the app's worker answered with a typed result
            assert ("CheckpointRequested", "CheckpointsPane") in seen
            await wait_for(pilot, lambda: chosen, what="the screen saw the result")
            assert chosen[0].checkpoint == "ckpt_000010240.pth" and chosen[0].seq == state["seq"]
            assert "viewers asked to show ckpt_000010240.pth" in chosen[0].text
            await wait_for(pilot, lambda: any("viewers asked to show" in str(n.message)
                                              for n in app._notifications), what="notified")
            # l on the processes tab: the pane asks the run view for the role's log
            await pilot.press("4")
            await pilot.pause(0.3)
            await pilot.press("l")
            await wait_for(pilot, lambda: screen.active == "logs", what="logs tab")
            assert screen.pane("logs").role == "train"
            # the request was the run view's business: it never reached the app
            assert not any(n == "ShowLogRequested" for n, _ in seen)
    asyncio.run(scenario())
