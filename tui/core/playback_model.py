"""The Preview tab's data: the newest frame of the viewer shown and the run's videos.

Read only while the tab is visible (:meth:`PlaybackModel.watch`, from the UI thread); the
poller's thread then stats the shown viewer's ``preview/<id>.png`` 4 times a second and decodes
it only when it changed, and reads the video index when ``videos/index.jsonl`` changes (and
every 2 s). It publishes a :class:`PlaybackSnapshot`; only the poller writes it. No Textual here.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from runners.protocol import PreviewFrame, list_previews, output_dir
from runners.protocol.rundir import RunPaths

from .run_detail_model import RunDetail, role_number

if TYPE_CHECKING:   # tui.core.videos (launching, ffmpeg) is imported when the Preview tab opens
    from .videos import VideoInfo

PREVIEW_EVERY_S = 0.25      # the shown viewer's preview file is looked at this often
VIDEOS_EVERY_S = 2.0        # the video list is read again this often (and when its index changes)

Want = tuple[Path, "str | None"]   # (run, viewer or None: the newest headless one)


@dataclass(frozen=True)
class PlaybackSnapshot:
    """The Preview tab's data: the shown viewer's newest frame and the run's videos."""
    path: Path
    viewer_id: str | None = None        # whose frames are shown (None: no viewer has any)
    viewer_ids: tuple[str, ...] = ()    # viewers one can switch to (headless or with frames)
    auto: bool = True                   # the viewer was chosen automatically (newest headless)
    frame: PreviewFrame | None = field(default=None, compare=False)
    frame_key: tuple | None = None      # (file, mtime_ns, size) of the frame read
    frame_error: str | None = None
    videos: tuple[VideoInfo, ...] = field(default=(), compare=False)
    videos_key: tuple = ()
    bad_video_lines: int = 0
    version: int = 0


def preview_choices(out: Path, detail: RunDetail | None) -> tuple[tuple[str, ...], str | None]:
    """Viewers whose frames the Preview tab can show (headless ones and any with a preview
    file), and the one it shows by default: the newest live headless viewer, else the viewer
    whose preview file is newest (a viewer that ended leaves its last frame)."""
    files = list_previews(out)
    live_headless = [v.id for v in (detail.viewers if detail else ())
                     if v.alive and v.display == "none"]
    headless = [v.id for v in (detail.viewers if detail else ()) if v.display == "none"]
    ids = tuple(sorted(set(files) | set(headless), key=role_number))
    if live_headless:
        return ids, max(live_headless, key=role_number)
    best: tuple[float, str] | None = None
    for vid in files:
        try:
            m = RunPaths(out).preview_file(vid).stat().st_mtime
        except OSError:
            continue
        if best is None or m > best[0]:
            best = (m, vid)
    return ids, best[1] if best else None


class PlaybackModel:
    """:meth:`watch` from the UI; :meth:`refresh` on the poller's thread."""

    def __init__(self, wake: Callable[[], None]):
        self.wake = wake
        self._lock = threading.Lock()
        self._want: Want | None = None       # the UI's, under the lock
        self._pb: PlaybackSnapshot | None = None   # poller only
        self._done: Want | None = None       # the want the snapshot was made for (poller)
        self._videos_at = 0.0
        self._videos_sig: tuple | None = None
        self.due = 0.0

    # ------------------------------------------------------------------ the UI's side
    @property
    def snapshot(self) -> PlaybackSnapshot | None:
        pb, want = self._pb, self._want
        return pb if pb is not None and want is not None and pb.path == want[0] else None

    @property
    def watched(self) -> Path | None:
        want = self._want
        return want[0] if want is not None else None

    @property
    def wanted(self) -> Want | None:
        return self._want

    def is_due(self, now: float) -> bool:
        """Poller: time for a look (or the UI asked for something else)."""
        return now >= self.due or self._want != self._done

    def watch(self, run_dir: Path | None, viewer: str | None = None) -> None:
        """Read preview frames and videos of ``run_dir`` (the Preview tab is visible), of
        ``viewer`` or, with None, of the newest live headless viewer; None stops reading."""
        want = (Path(run_dir).absolute(), viewer) if run_dir is not None else None
        with self._lock:
            if want == self._want:
                return
            self._want = want
        self.wake()

    # ------------------------------------------------------------------ the poller's side
    def refresh(self, detail: RunDetail | None) -> None:
        want = self._want
        if want is None:
            self._pb, self._done = None, None
            return
        path, asked = want
        if self._done is None or self._done[0] != path:   # another run: start afresh
            self._pb = None
            self._videos_sig = None
        self._done = want
        out = output_dir(path)
        d = detail if detail is not None and detail.path == path else None
        ids, auto_id = preview_choices(out, d)
        vid = asked if asked is not None else auto_id
        prev = self._pb if self._pb is not None and self._pb.path == path else None

        frame, frame_key, frame_err = (prev.frame, prev.frame_key, prev.frame_error) \
            if prev is not None and prev.viewer_id == vid else (None, None, None)
        if vid is not None:
            pfile = RunPaths(out).preview_file(vid)
            try:
                st = pfile.stat()
                key: tuple | None = (str(pfile), st.st_mtime_ns, st.st_size, st.st_ino)
            except OSError:
                key = None
            if key is None:
                frame, frame_key, frame_err = None, None, None
            elif key != frame_key:
                from .preview import latest_frame

                frame, frame_err = latest_frame(out, vid)
                frame_key = key
        else:
            frame, frame_key, frame_err = None, None, None

        videos, vkey, bad = (prev.videos, prev.videos_key, prev.bad_video_lines) \
            if prev is not None else ((), (), 0)
        index = RunPaths(out).video_index
        try:
            ist = index.stat()
            sig: tuple | None = (ist.st_mtime_ns, ist.st_size, ist.st_ino)
        except OSError:
            sig = None
        now = time.monotonic()
        if sig != self._videos_sig or now - self._videos_at >= VIDEOS_EVERY_S or prev is None:
            self._videos_sig = sig
            self._videos_at = now
            from .videos import list_videos

            infos, bad = list_videos(path)
            videos = tuple(infos)
            vkey = tuple((v.name, v.exists, v.entry.created) for v in videos)

        snap = PlaybackSnapshot(path, vid, ids, asked is None, frame, frame_key, frame_err,
                                videos, vkey, bad, prev.version if prev else 0)
        if prev is None or _pb_key(prev) != _pb_key(snap):
            self._pb = PlaybackSnapshot(**{**snap.__dict__, "version": snap.version + 1})


def _pb_key(p: PlaybackSnapshot) -> tuple:
    return (p.viewer_id, p.viewer_ids, p.auto, p.frame_key, p.frame_error, p.videos_key,
            p.bad_video_lines)
