"""Preview of the run: a headless viewer's newest frame, live, and the run's videos.

The frames and the video list come from the model's data thread (``RunsModel.watch_playback``,
only while this tab is visible) as a :class:`~tui.core.run_view_model.PlaybackSnapshot`; the
render tick hands them to the widgets. Playing a video decodes it in a worker thread at a low
frame rate (``tui.core.videos.video_frames``) and posts each frame here; ``esc`` goes back to
the live preview. ``o`` opens the video with the desktop's player when a display works.
"""
from __future__ import annotations

import time

import numpy as np
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from tui.core.playback_model import PlaybackSnapshot
from tui.core.run_detail_model import RunDetail
from tui.core.videos import VideoError, VideoInfo, video_frames
from tui.messages import OpenVideoRequested, ShowLogRequested
from tui.widgets.picture import preview_widget
from tui.widgets.preview import PreviewView
from tui.widgets.video_list import VideoList
from tui.screens.panes.base import RunPaneMixin


PLAY_FPS = 8.0        # terminal playback: frames per second
SIDE_MIN = 34         # the video list's column keeps at least this many cells


class PlayFrame(Message):
    """A decoded frame of the video being played (from the playback worker)."""

    def __init__(self, token: int, img: np.ndarray, t: float) -> None:
        super().__init__()
        self.token = token
        self.img = img
        self.t = t


class PlayEnded(Message):
    def __init__(self, token: int, frames: int, error: str | None = None) -> None:
        super().__init__()
        self.token = token
        self.frames = frames
        self.error = error


def _esc(text: str) -> str:
    return text.replace("[", r"\[")


class PlaybackPane(RunPaneMixin, Horizontal):
    BINDINGS = [
        Binding("escape", "live", "Live preview", id="preview.live"),
        Binding("right_square_bracket", "viewer(1)", "Next viewer", id="preview.next_viewer"),
        Binding("left_square_bracket", "viewer(-1)", "Prev viewer", show=False,
                id="preview.prev_viewer"),
        Binding("l", "viewer_log", "Viewer log", show=False, id="preview.viewer_log"),
    ]

    def __init__(self) -> None:
        super().__init__(id="pane-preview")
        self.detail: RunDetail | None = None
        self.viewer: str | None = None      # chosen with [ / ]; None: the newest headless
        self.playing: VideoInfo | None = None
        self.play_ended = False
        self.play_frames = 0                # frames of the current video shown so far
        self._token = 0
        self._play_newest = False           # play the newest video once the list is read
        self._pb_key: object = None
        self._source_key: object = None
        self._info_key: object = None


    def compose(self) -> ComposeResult:
        yield preview_widget("preview-view")   # kitty/sixel where the terminal has them
        with Vertical(id="preview-side"):
            yield Static("", id="preview-source")
            yield VideoList(id="video-list")
            yield Static("", id="video-info")

    def focus_main(self) -> None:
        self.query_one(VideoList).focus()

    @property
    def view(self) -> PreviewView:
        return self.query_one("#preview-view")   # type: ignore[return-value]

    def on_resize(self) -> None:
        """The preview gets a square's worth of cells (a cell is twice as tall as wide); the
        video list the rest."""
        w, h = self.size.width, self.size.height
        pw = max(8, min(2 * max(1, h - 1) + 2, w - SIDE_MIN))
        self.view.styles.width = pw

    # ------------------------------------------------------------------ data
    def show(self, detail: RunDetail) -> None:
        self.detail = detail
        model = self.papp.model
        model.watch_playback(detail.path, self.viewer)
        pb = model.playback
        self._source(detail, pb)
        if pb is None:
            return
        key = (pb.version, self.playing is None)
        if key == self._pb_key:
            return
        self._pb_key = key
        self.query_one(VideoList).show(list(pb.videos))
        self._video_info()
        if self._play_newest:
            self._play_newest = False
            if pb.videos:
                self.query_one(VideoList).move_cursor(row=0)
                self.query_one(VideoList).action_play()
            else:
                self.notify("no video of this run yet: r on a checkpoint (tab 3) records one",
                            severity="warning")
        if self.playing is None:
            self._live(pb, detail)

    def _live(self, pb: PlaybackSnapshot, detail: RunDetail) -> None:
        view = self.view
        vid = pb.viewer_id
        if vid is None:
            view.show_frame(None, message="no headless viewer: v starts one (choose none)")
            return
        v = next((x for x in detail.viewers if x.id == vid), None)
        # the line above the list names a live viewer; a dead one's last frame says so itself
        label = "" if v is not None and v.alive else "%s %s:" % (
            vid, v.process_text if v is not None and v.process_text else "ended")
        message = pb.frame_error or ("%s has not rendered a frame yet" % vid
                                     if v is None or v.alive else
                                     "%s %s before its first frame" % (
                                         vid, v.process_text or "ended"))
        view.show_frame(pb.frame, message=message, label=label)

    def _source(self, detail: RunDetail, pb: PlaybackSnapshot | None) -> None:
        """One line: whose frames these are (or which video plays) and its state."""
        vid = pb.viewer_id if pb is not None else None
        v = next((x for x in detail.viewers if x.id == vid), None) if vid else None
        others = len(pb.viewer_ids) - 1 if pb is not None and vid in pb.viewer_ids else 0
        key = (vid, v, others, self.playing.name if self.playing else None, self.play_ended,
               pb.auto if pb else True)
        if key == self._source_key:
            return
        self._source_key = key
        if self.playing is not None:
            text = ("[b]■ ended[/b]  [dim]enter: again · esc: live frames[/dim]"
                    if self.play_ended else
                    "[b]▶ playing[/b]  [dim]esc: back to live frames[/dim]")
        elif vid is None:
            text = "[dim]no preview: [b]v[/b] starts a viewer, choose [b]none[/b][/dim]"
        else:
            if v is None:
                state = "[dim]gone[/dim]"
            elif v.process == "failed":
                state = "[b red]%s[/b red] [dim]l: its log[/dim]" % _esc(v.process_text)
            elif not v.alive:
                state = "[dim]%s[/dim]" % _esc(v.process_text or v.process or "ended")
            else:
                state = "[green]%s[/green]" % (v.ack_state or "starting")
            text = "[b]%s[/b]  %s" % (vid, state)
            if others:
                text += "  [dim]\\[ ] %d other%s[/dim]" % (others, "" if others == 1 else "s")
        self.query_one("#preview-source", Static).update(text)

    def _video_info(self) -> None:
        v = self.query_one(VideoList).selected
        n = self.query_one(VideoList).row_count
        key = (v.name if v else None, v.exists if v else None, n)
        if key == self._info_key:
            return
        self._info_key = key
        if v is None:
            text = "[dim]no videos: r on a checkpoint (tab 3) records one[/dim]"
        else:
            e = v.entry
            rets = ", ".join("%.0f" % r for r in e.returns[:6]) + (" ..." if len(e.returns) > 6
                                                                    else "")
            text = "%s\n[dim]returns %s · %dx%d · %g fps[/dim]" % (
                _esc(v.name) if v.exists else "[strike]%s[/strike] (file gone)" % _esc(v.name),
                rets or "-", e.width, e.height, e.fps)
        self.query_one("#video-info", Static).update(text)

    @on(VideoList.RowHighlighted)
    def _highlighted(self) -> None:
        self._video_info()

    # ------------------------------------------------------------------ playing a video
    @on(VideoList.PlayRequested)
    def _play_requested(self, event: VideoList.PlayRequested) -> None:
        event.stop()
        v = event.video
        if not v.exists:
            self.notify("%s: the file is gone" % v.name, severity="warning")
            return
        self._token += 1
        self.playing = v
        self.play_ended = False
        self.play_frames = 0
        self._pb_key = None
        self._source_key = None
        self.view.show_image(None, message="decoding %s ..." % v.name)
        self._play(v, self._token, max(16, self.view.size.width))
        self.refresh_bindings()
        if self.detail is not None:
            self._source(self.detail, self.papp.model.playback)

    def play_newest(self) -> None:
        """Play the run's newest video as soon as the list is read (command palette)."""
        self._play_newest = True
        self._pb_key = None
        if self.detail is not None:
            self.show(self.detail)

    @work(thread=True, exclusive=True, group="play", exit_on_error=False)
    def _play(self, video: VideoInfo, token: int, width: int) -> None:
        worker = get_current_worker()
        n = 0
        t0 = time.monotonic()
        try:
            for t, img in video_frames(video.path, fps=PLAY_FPS, width=width):
                if worker.is_cancelled:
                    return
                delay = t0 + t - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                if worker.is_cancelled:
                    return
                self.post_message(PlayFrame(token, img, t))
                n += 1
        except VideoError as e:
            self.post_message(PlayEnded(token, n, str(e)))
            return
        except Exception as e:   # ffmpeg gone, a broken file ...: said on the preview itself
            self.post_message(PlayEnded(token, n, "%s: %s" % (type(e).__name__, e)))
            return
        self.post_message(PlayEnded(token, n))

    @on(PlayFrame)
    def _play_frame(self, msg: PlayFrame) -> None:
        if msg.token != self._token or self.playing is None:
            return
        self.play_frames += 1
        self.view.show_image(msg.img, "%.1f s of %.1f s  %s" % (msg.t, self.playing.duration,
                                                                self.playing.name))

    @on(PlayEnded)
    def _play_ended(self, msg: PlayEnded) -> None:
        if msg.token != self._token or self.playing is None:
            return
        self.play_ended = True
        if msg.error:
            self.view.show_image(None, message="cannot play %s: %s" % (self.playing.name,
                                                                      msg.error))
        else:
            self.view.show_image(self.view.image, "ended: %d frames at %g/s  %s" % (
                msg.frames, PLAY_FPS, self.playing.name))
        if self.detail is not None:
            self._source(self.detail, self.papp.model.playback)

    def action_live(self) -> None:
        """Stop the video: back to the viewer's live frames."""
        self._token += 1
        self.workers.cancel_group(self, "play")
        self.playing = None
        self.play_ended = False
        self._pb_key = None
        self.view._key = None
        self.refresh_bindings()
        if self.detail is not None:
            self.show(self.detail)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "live":
            return self.playing is not None   # otherwise esc goes back to the runs list
        return True

    # ------------------------------------------------------------------ opening one
    @on(VideoList.OpenRequested)
    def _open_requested(self, event: VideoList.OpenRequested) -> None:
        event.stop()
        if not event.video.exists:
            self.notify("%s: the file is gone" % event.video.name, severity="warning")
            return
        if self.detail is not None:
            self.post_message(OpenVideoRequested(self.detail.path, event.video))

    # ------------------------------------------------------------------ viewers
    def action_viewer(self, delta: int) -> None:
        pb = self.papp.model.playback
        if pb is None or not pb.viewer_ids:
            self.notify("no headless viewer to show", severity="warning")
            return
        ids = list(pb.viewer_ids)
        i = ids.index(pb.viewer_id) if pb.viewer_id in ids else -1
        self.viewer = ids[(i + delta) % len(ids)]
        self._pb_key = None
        if self.playing is not None:
            self.action_live()
        if self.detail is not None:
            self.papp.model.watch_playback(self.detail.path, self.viewer)
            self.view.show_frame(None, message="%s ..." % self.viewer)

    def action_viewer_log(self) -> None:
        pb = self.papp.model.playback
        if pb is not None and pb.viewer_id is not None:
            self.post_message(ShowLogRequested(pb.viewer_id))
