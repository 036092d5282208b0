"""The playback widgets on their own (Pilot): preview frames as half blocks, the video list,
the display picker. Real files through runners.protocol; no mocks."""
from __future__ import annotations

import asyncio
import functools
import time

import numpy as np
from textual.app import App, ComposeResult
from textual.widgets import OptionList

from runners.protocol import VideoEntry, append_video_entry, read_preview, write_preview
from tui.core.displays import DisplayCandidate, ProbeResult
from tui.core.videos import list_videos
from tui.screens.display_picker import DisplayPickerScreen
from tui.widgets.preview import PreviewView
from tui.widgets.video_list import VideoList

def sync(fn):
    """Run an async Pilot scenario as a plain test (the suite has no async plugin)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))
    return wrapper


RED, BLUE, GREEN = (255, 0, 0), (0, 0, 255), (0, 255, 0)


def quadrants(w: int = 64, h: int = 64) -> np.ndarray:
    """Top half: red left, blue right; bottom half green."""
    img = np.zeros((h, w, 3), np.uint8)
    img[: h // 2, : w // 2] = RED
    img[: h // 2, w // 2:] = BLUE
    img[h // 2:] = GREEN
    return img


class Harness(App):
    def __init__(self, widget) -> None:
        super().__init__()
        self.widget = widget
        self.messages: list = []

    def compose(self) -> ComposeResult:
        yield self.widget

    def on_video_list_play_requested(self, m: VideoList.PlayRequested) -> None:
        self.messages.append(("play", m.video.name))

    def on_video_list_open_requested(self, m: VideoList.OpenRequested) -> None:
        self.messages.append(("open", m.video.name))


def colours(strip) -> list[tuple[str | None, str | None, str]]:
    """(fg, bg, text) per segment; half-block runs of one colour are split into cells."""
    out = []
    for seg in strip:
        st = seg.style
        fg = st.color.get_truecolor() if st and st.color else None
        bg = st.bgcolor.get_truecolor() if st and st.bgcolor else None
        fg, bg = (tuple(fg) if fg else None, tuple(bg) if bg else None)
        if seg.text and set(seg.text) == {"▀"}:
            out += [(fg, bg, "▀")] * len(seg.text)
        else:
            out.append((fg, bg, seg.text))
    return out


@sync
async def test_preview_view_draws_a_frame_in_half_blocks_with_its_caption(tmp_path):
    run = tmp_path / "run"
    write_preview(run, "viewer-1", quadrants().tobytes(), 64, 64,
                  {"checkpoint": str(run / "nn" / "ckpt_000002048.pth"), "checkpoint_step": 2048,
                   "episode": 3, "return_so_far": 12.5, "episode_return": 40.0,
                   "time": time.time()})
    frame = read_preview(run, "viewer-1")
    view = PreviewView()
    app = Harness(view)
    async with app.run_test(size=(90, 12)) as pilot:
        view.show_frame(frame, label="viewer-1")
        await pilot.pause()
        w, h = view.size.width, view.size.height
        assert (w, h) == (90, 12)
        # 2 caption lines, 10 rows of cells = 20 pixel rows; the square image is 20 cells
        # wide, centred
        first = colours(view.render_line(0))
        cells = [c for c in first if c[2] == "▀"]
        assert len(cells) == 20, len(cells)
        assert first[0][2] == " " * 35
        assert cells[0][0] == RED and cells[-1][0] == BLUE        # top pixels: red | blue
        last_img_row = colours(view.render_line(h - 3))
        cells = [c for c in last_img_row if c[2] == "▀"]
        assert cells[0][0] == GREEN and cells[0][1] == GREEN      # bottom: green both
        caption = "".join(c[2] for y in (h - 2, h - 1) for c in colours(view.render_line(y)))
        assert "viewer-1" in caption and "ckpt_000002048.pth" in caption
        assert "step 2048" in caption and "episode 4" in caption and "return 12.5" in caption

        view.show_frame(None, message="viewer-1 has not rendered a frame yet")
        await pilot.pause()
        assert not view.has_image
        assert "not rendered" in "".join(c[2] for c in colours(view.render_line(h - 2)))
        assert not [c for c in colours(view.render_line(0)) if c[2] == "▀"]


def _entry(name: str, created: float, returns: list[float], source: str = "record"):
    return VideoEntry(file=name, checkpoint="/x/nn/ckpt_000000512.pth", step=512,
                      returns=returns, frames=50, fps=25.0, width=64, height=64, size=1000,
                      created=created, source=source)


@sync
async def test_video_list_shows_the_index_newest_first_and_asks_to_play_or_open(tmp_path):
    run = tmp_path / "run"
    (run / "videos").mkdir(parents=True)
    for name in ("a.mp4", "b.mp4"):
        (run / "videos" / name).write_bytes(b"x")
    append_video_entry(run, _entry("a.mp4", 100.0, [10.0, 20.0]))
    append_video_entry(run, _entry("b.mp4", 200.0, [7.0], source="training"))
    videos, bad = list_videos(run)
    assert bad == 0 and [v.name for v in videos] == ["b.mp4", "a.mp4"]
    table = VideoList()
    app = Harness(table)
    async with app.run_test(size=(100, 10)) as pilot:
        table.show(videos)
        await pilot.pause()
        assert table.row_count == 2
        row = [str(c) for c in table.get_row_at(1)]
        assert row[1:5] == ["512", "2", "15.0", "2.0 s"] and row[6:] == ["a.mp4",
                                                                        "ckpt_000000512.pth"]
        table.focus()
        await pilot.press("down")
        await pilot.press("enter")
        await pilot.press("o")
        await pilot.pause()
        assert app.messages == [("play", "a.mp4"), ("open", "a.mp4")]


class PickerHost(App):
    def __init__(self, screen) -> None:
        super().__init__()
        self.picker = screen
        self.result: list = []

    def on_mount(self) -> None:
        self.push_screen(self.picker, self.result.append)


def _results():
    return [(DisplayCandidate(":5", "x11", "/tmp/.X11-unix/X5"),
             ProbeResult(":5", True, "640x480, GLX")),
            (DisplayCandidate(":6", "x11", "/tmp/.X11-unix/X6"),
             ProbeResult(":6", False, "cannot open display"))]


@sync
async def test_display_picker_offers_headless_and_working_displays():
    app = PickerHost(DisplayPickerScreen(_results(), remembered=":5"))
    async with app.run_test(size=(100, 20)) as pilot:
        await pilot.pause()
        text = "\n".join(s.text for s in app.screen._compositor.render_strips())
        assert "none" in text and ":5" in text and "opens" in text
        assert ":6" in text and "does not open" in text and "(remembered)" in text
        await pilot.press("enter")          # the remembered display is highlighted first
        await pilot.pause()
    assert app.result == [":5"]


@sync
async def test_display_picker_skips_a_dead_display_and_cancels():
    app = PickerHost(DisplayPickerScreen(_results()))
    async with app.run_test(size=(100, 20)) as pilot:
        await pilot.pause()
        ol = app.screen.query_one("#display-options", OptionList)
        await pilot.press("down")
        assert ol.highlighted_option.id == ":5"
        await pilot.press("down")                    # :6 did not open: it is skipped
        assert ol.highlighted_option.id != ":6"
        await pilot.press("enter")
        await pilot.pause()
    assert app.result and app.result[0] != ":6"
    app = PickerHost(DisplayPickerScreen(_results()))
    async with app.run_test(size=(100, 20)) as pilot:
        await pilot.pause()
        await pilot.press("enter")          # first option: headless
        await pilot.pause()
    assert app.result == ["none"]
    app = PickerHost(DisplayPickerScreen([]))
    async with app.run_test(size=(100, 20)) as pilot:
        await pilot.pause()
        assert "no display found" in "\n".join(
            s.text for s in app.screen._compositor.render_strips())
        await pilot.press("escape")
        await pilot.pause()
    assert app.result == [None]
