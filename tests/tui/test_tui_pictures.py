"""Pictures in capable terminals: which protocol the TUI picks (tmux: half blocks unless
passthrough is on, checked against a real tmux server), and the kitty picture view drawing a
frame through textual-image with unicode placeholders (the cells a kitty terminal fills)."""
from __future__ import annotations

import asyncio
import shutil
import subprocess

import numpy as np
import pytest
from textual.app import App

from tui.core.terminal_graphics import tui_graphics

TMUX = shutil.which("tmux")


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_inside_tmux_half_blocks_unless_passthrough_is_on(tmp_path):
    sock = tmp_path / "tmux.sock"
    run = lambda *a: subprocess.run([TMUX, "-S", str(sock), *a], capture_output=True,  # noqa
                                    text=True, timeout=20)
    run("new-session", "-d", "-s", "t", "-x", "80", "-y", "24", "sleep 60")
    try:
        pid = run("display-message", "-p", "#{pid}").stdout.strip()
        env = {"TMUX": "%s,%s,0" % (sock, pid), "TERM": "tmux-256color"}
        run("set-option", "-g", "allow-passthrough", "off")
        g = tui_graphics(env)
        assert g.kind == "halfblock" and "passthrough is off" in g.reason
        run("set-option", "-g", "allow-passthrough", "on")
        g = tui_graphics(env)       # on, but the client's terminal (none attached) is no kitty
        assert g.kind == "halfblock" and "passthrough" not in g.reason
    finally:
        run("kill-server")
    assert tui_graphics({"TERM": "xterm-kitty"}).kind == "kitty"
    assert tui_graphics({"TERM": "foot"}).kind == "sixel"
    assert tui_graphics({"TERM": "xterm-256color"}).kind == "halfblock"


def test_the_kitty_picture_view_draws_a_frame_with_placeholders(capfd):
    pytest.importorskip("textual_image")
    from textual_image.widget import TGPImage

    from tui.widgets.picture import PictureView

    img = np.zeros((64, 96, 3), np.uint8)
    img[16:48, 24:72] = (200, 60, 30)

    class Host(App):
        def compose(self):
            yield PictureView(TGPImage, id="pv")

    async def scenario():
        app = Host()
        async with app.run_test(size=(60, 20)) as pilot:
            view = app.query_one(PictureView)
            view.show_image(img, "a frame  step 100")
            await pilot.pause(0.3)
            text = "\n".join(s.text for s in app.screen._compositor.render_strips())
            assert chr(0x10EEEE) in text            # kitty's unicode placeholder cells
            assert "a frame  step 100" in text and view.has_image
            view.show_image(None, message="no headless viewer")
            await pilot.pause(0.2)
            text = "\n".join(s.text for s in app.screen._compositor.render_strips())
            assert chr(0x10EEEE) not in text and "no headless viewer" in text
    asyncio.run(scenario())
    out, _ = capfd.readouterr()
    assert "\x1b_G" in out                           # the picture was sent (kitty protocol)
