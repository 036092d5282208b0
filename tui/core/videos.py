"""Videos of a run: the index, recordings started as detached roles, and playing them back.

A recording is the profile's play runner in ``record`` mode, started like a viewer through the
starter/wrapper pair (role ``record-N``, claimed by creating its log file exclusively), so it
finishes even if the TUI quits. Its mp4 lands in ``videos/`` and its line in
``videos/index.jsonl`` (``runners.protocol.videos``).

Playback: :func:`video_frames` decodes an mp4 to RGB frames at a low frame rate and size with
the ``ffmpeg`` that ``imageio-ffmpeg`` ships (or one on ``$PATH``), for the terminal;
:func:`open_with_desktop` hands the file to the desktop's player (``xdg-open``) on a display.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from runners.protocol import (ProcessSpec, VideoEntry, output_dir,
                              read_proc_record, read_run_record, read_starter_record,
                              read_video_index)
from runners.protocol.rundir import RunPaths

from .process_specs import SpecSource
from .process_specs import record_spec as _record_spec
from .profiles import ProfileError
from .run_checkpoints import find_checkpoint
from .run_control import start_adhoc_role
from .run_profile import run_capabilities, run_profile

RECORD_PREFIX = "record-"


class VideoError(RuntimeError):
    pass


@dataclass
class VideoInfo:
    entry: VideoEntry
    path: Path
    exists: bool

    @property
    def name(self) -> str:
        return self.entry.file

    @property
    def mean_return(self) -> float | None:
        r = self.entry.returns
        return sum(r) / len(r) if r else None

    @property
    def duration(self) -> float:
        return self.entry.frames / self.entry.fps if self.entry.fps else 0.0


def list_videos(run_dir: Path) -> tuple[list[VideoInfo], int]:
    """Indexed videos, and those a foreign trainer wrote where the profile's ``videos`` field
    says (``runners.protocol.foreign_videos``), newest first; and the number of unreadable
    index lines."""
    out_dir = output_dir(run_dir)
    entries, bad = read_video_index(out_dir)
    vdir = RunPaths(out_dir).videos_dir
    infos = [VideoInfo(e, vdir / e.file, (vdir / e.file).is_file()) for e in entries]
    infos += [VideoInfo(e, p, True) for e, p in _foreign_videos(run_dir, out_dir,
                                                                {v.path for v in infos})]
    infos.sort(key=lambda v: v.entry.created, reverse=True)
    return infos, bad


def _foreign_videos(run_dir: Path, out_dir: Path, skip: set[Path]) -> list:
    from runners.protocol import ProtocolError
    from runners.protocol.foreign_videos import foreign_videos, video_dir_specs

    try:
        record = read_run_record(run_dir)
        specs = video_dir_specs(record.profile.get("videos"), RunPaths(run_dir).run_json)
    except (ProtocolError, OSError):
        return []
    return foreign_videos(out_dir, specs, skip) if specs else []


def find_video(run_dir: Path, ref: str) -> VideoInfo:
    """A video by file name, unique prefix, or number in :func:`list_videos` order (1 = newest)."""
    infos, _ = list_videos(run_dir)
    if ref.isdigit() and 1 <= int(ref) <= len(infos):
        return infos[int(ref) - 1]
    exact = [v for v in infos if v.name == ref]
    if exact:
        return exact[0]
    prefix = [v for v in infos if v.name.startswith(ref)]
    if len(prefix) == 1:
        return prefix[0]
    names = ", ".join(v.name for v in infos[:5]) or "none yet"
    raise VideoError("no video %r in %s (newest: %s)" % (ref, run_dir.name, names))


# --------------------------------------------------------------------------- recording

def record_unavailable(run_dir: Path) -> str | None:
    """Why this run's checkpoints cannot be recorded to video (None: they can)."""
    record = read_run_record(run_dir)
    caps = run_capabilities(record, RunPaths(run_dir).run_json)
    return None if caps.can("record") else caps.reason("record")


def record_spec(run_dir: Path, role: str, checkpoint: Path | None, episodes: int,
                extra_args: list[str] | None = None) -> ProcessSpec:
    record = read_run_record(run_dir)
    source = RunPaths(run_dir).run_json
    caps = run_capabilities(record, source)
    profile = run_profile(record, source)
    if not caps.can("record") or profile.play is None:
        raise VideoError("%s cannot record videos: %s" % (record.name, caps.reason("record")))
    try:
        return _record_spec(SpecSource(record.params, record.profile_path, record.name),
                            profile.play, run_dir, role, checkpoint, episodes, extra_args)
    except ProfileError as e:
        raise VideoError(str(e))


@dataclass
class StartedRecording:
    role: str
    starter: subprocess.Popen
    checkpoint: Path | None


def start_recording(run_dir: Path, checkpoint: str | None = None, episodes: int = 1,
                    extra_args: list[str] | None = None) -> StartedRecording:
    """Record ``episodes`` episodes of ``checkpoint`` (a file name, step or path; default the
    newest) in a detached process; returns at once."""
    if episodes < 1:
        raise VideoError("episodes must be >= 1, found %d" % episodes)
    ckpt = find_checkpoint(run_dir, checkpoint) if checkpoint else None
    role, starter = start_adhoc_role(
        run_dir, RECORD_PREFIX, lambda r: record_spec(run_dir, r, ckpt, episodes, extra_args))
    return StartedRecording(role, starter, ckpt)


def wait_recording(run_dir: Path, started: StartedRecording, timeout: float = 600.0
                   ) -> tuple[int | None, VideoEntry | None, str | None]:
    """Block until the recorder ended: ``(exit code, its index entry, error)``."""
    started.starter.wait(timeout=60)
    st = read_starter_record(run_dir, started.role)
    if st is not None and st.error:
        return None, None, st.error
    before = {v.name for v in list_videos(run_dir)[0]}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec = read_proc_record(run_dir, started.role)
        if rec is not None and rec.ended:
            new = [v for v in list_videos(run_dir)[0] if v.name not in before]
            code = rec.exit_code if rec.signal is None else -rec.signal
            err = None if code == 0 else "recorder %s ended with %s (see logs/%s.log)" % (
                started.role, "exit code %s" % code if code is not None and code >= 0
                else "signal %s" % rec.signal, started.role)
            entry = new[0].entry if new else _entry_from_log(run_dir, started.role)
            return code, entry, err
        time.sleep(0.1)
    return None, None, "recorder %s still running after %.0f s" % (started.role, timeout)


def _entry_from_log(run_dir: Path, role: str) -> VideoEntry | None:
    """The entry a recorder wrote, found through its log line (it may have finished before
    :func:`wait_recording` listed the videos)."""
    try:
        text = RunPaths(run_dir).log_file(role).read_text(errors="replace")
    except OSError:
        return None
    for line in reversed(text.splitlines()):
        if line.startswith("recorded videos/"):
            name = line[len("recorded videos/"):].split(":", 1)[0]
            for v in list_videos(run_dir)[0]:
                if v.name == name:
                    return v.entry
    return None


# --------------------------------------------------------------------------- playback

def ffmpeg_exe() -> str | None:
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:
        return shutil.which("ffmpeg")


def video_frames(path: Path, fps: float = 8.0, width: int = 160,
                 ) -> Iterator[tuple[float, np.ndarray]]:
    """``(time in the video, (H, W, 3) uint8 frame)`` at ``fps``, scaled to ``width`` pixels."""
    exe = ffmpeg_exe()
    if exe is None:
        raise VideoError("no ffmpeg to decode videos: install imageio-ffmpeg (pip) or ffmpeg")
    probe = _probe_size(exe, path)
    if probe is None:
        raise VideoError("%s is not a readable video" % path)
    w0, h0 = probe
    width = max(2, min(width, w0)) // 2 * 2
    height = max(2, int(round(h0 * width / w0)) // 2 * 2)
    argv = [exe, "-v", "error", "-nostdin", "-i", str(path), "-vf",
            "fps=%g,scale=%d:%d" % (fps, width, height), "-f", "rawvideo", "-pix_fmt", "rgb24",
            "-"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    size = width * height * 3
    i = 0
    try:
        assert proc.stdout is not None
        while True:
            buf = proc.stdout.read(size)
            if len(buf) < size:
                break
            yield i / fps, np.frombuffer(buf, dtype=np.uint8).reshape(height, width, 3)
            i += 1
    finally:
        proc.kill()
        proc.wait()


def _probe_size(exe: str, path: Path) -> tuple[int, int] | None:
    """Width and height from ffmpeg's stream line (``Video: h264 ..., 256x256``)."""
    import re

    r = subprocess.run([exe, "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True,
                       text=True, timeout=30)
    m = re.search(r"Video:.*?(\d{2,5})x(\d{2,5})", r.stderr)
    return (int(m.group(1)), int(m.group(2))) if m else None


def desktop_player_argv(path: Path) -> list[str] | None:
    """The command that opens a video with the desktop's player, if there is one."""
    for exe in ("xdg-open", "gio", "mpv", "vlc", "ffplay"):
        found = shutil.which(exe)
        if found:
            return [found, "open", str(path)] if exe == "gio" else [found, str(path)]
    return None


def open_with_desktop(path: Path, display: str, log: Path) -> subprocess.Popen:
    """Open ``path`` with the desktop's player on ``display`` (detached, output to ``log``)."""
    from runners.protocol.displays import display_env

    from .spawn import spawn_detached

    argv = desktop_player_argv(path)
    if argv is None:
        raise VideoError("no desktop video player found (xdg-open, gio, mpv, vlc or ffplay)")
    env = dict(os.environ)
    env.update(display_env(display))
    return spawn_detached(argv, log, cwd=path.parent, env=env)
