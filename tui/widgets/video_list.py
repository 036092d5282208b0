"""The videos of the run in view (``videos/index.jsonl``), newest first.

Render-only: ``show(videos)`` with ``tui.core.videos.list_videos(run_dir)[0]``. Enter asks to
play the selected video in the terminal, ``o`` to open it with the desktop's player: the widget
posts :class:`VideoList.PlayRequested` / :class:`VideoList.OpenRequested` and the owner acts.
"""
from __future__ import annotations

import datetime as _dt
import os

from rich.text import Text
from textual.binding import Binding
from textual.message import Message

from tui.core.videos import VideoInfo

from .keyed_table import KeyedTable

# the numbers first: next to the preview, at 80 columns, the list is about 40 wide (the file
# name of the highlighted video is shown in full under it)
COLUMNS = [("created", "TIME", 8), ("step", "STEP", 7), ("episodes", "EPS", 3),
           ("return", "RETURN", 7), ("length", "LEN", 6), ("source", "SOURCE", 8),
           ("file", "FILE", None), ("checkpoint", "CHECKPOINT", None)]


class VideoList(KeyedTable):
    BINDINGS = [
        Binding("enter", "play", "Play here", id="videos.play"),
        Binding("o", "open", "Open in player", id="videos.open"),
    ]

    class PlayRequested(Message):
        def __init__(self, video: VideoInfo) -> None:
            super().__init__()
            self.video = video

    class OpenRequested(Message):
        def __init__(self, video: VideoInfo) -> None:
            super().__init__()
            self.video = video

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(COLUMNS, id=id)
        self._videos: dict[str, VideoInfo] = {}

    def show(self, videos: list[VideoInfo]) -> None:
        self._videos = {v.name: v for v in videos}
        rows = []
        for v in videos:
            e = v.entry
            ret = v.mean_return
            rows.append((v.name, (
                _dt.datetime.fromtimestamp(e.created).strftime("%H:%M:%S"),
                "" if e.step is None else str(e.step),
                str(e.episodes),
                "" if ret is None else "%.1f" % ret,
                "%.1f s" % v.duration,
                e.source,
                Text(v.name, style="" if v.exists else "dim strike"),
                os.path.basename(e.checkpoint) or Text("(snapshot)", style="dim"),
            )))
        self.set_rows(rows)

    @property
    def videos(self) -> list[VideoInfo]:
        return list(self._videos.values())

    @property
    def selected(self) -> VideoInfo | None:
        key = self.current_key
        return self._videos.get(key) if key else None

    def action_play(self) -> None:
        v = self.selected
        if v is not None:
            self.post_message(self.PlayRequested(v))

    def action_open(self) -> None:
        v = self.selected
        if v is not None:
            self.post_message(self.OpenRequested(v))

    def on_data_table_row_selected(self, event) -> None:
        event.stop()
        self.action_play()
