"""The trainer's side of training videos (``record_video: true``).

One recorder process (``python -m runners.maniskill recorder``) is started with the training and
lives as long as it: SAPIEN's renderer costs 5-25 s to start, far too much to pay per video.
Every ``video_record_interval`` finished training *episodes* (the seed counted steps) the trainer
writes a snapshot of its live policy to ``videos/.snapshots/`` and hands the recorder one job line
on its stdin; the recorder renders in its own env on another core, so training never waits on
rendering. At most ``MAX_PENDING`` snapshots wait; more are skipped and counted. The recorder is
in the trainer's process group (a stop of the run reaches it too); at the normal end of training
its input is closed and the queue is drained. A recorder that dies is started again (at most
``MAX_RESTARTS`` times).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import IO, Any, Callable, Dict, List, Optional, Tuple

from runners.protocol import RunPaths, atomic_write_with

from .config import VideoConfig

MAX_PENDING = 4
MAX_RESTARTS = 2
DRAIN_TIMEOUT_S = 600.0
SNAPSHOT_DIR = ".snapshots"


def video_trigger(episodes: int, next_at: int, interval: int
                  ) -> Tuple[Optional[int], int, int]:
    """Episodes, not steps: ``(episode count to record or None, multiples passed over without
    a video, the next count that triggers)``. When several multiples of ``interval`` are passed
    at once (many envs finish together), the last one is recorded and the others are counted."""
    if episodes < next_at:
        return None, 0, next_at
    crossed = episodes // interval * interval
    return crossed, (crossed - next_at) // interval, crossed + interval


class TrainingVideos(object):
    def __init__(self, run_dir: Path, video: VideoConfig, out: IO[str] = sys.stdout,
                 argv: Optional[List[str]] = None):
        self.paths = RunPaths(run_dir)
        self.cfg = video
        self.out = out
        self.interval = int(video.video_record_interval)
        self.next_at = self.interval
        self.argv = argv or [sys.executable, "-m", "runners.maniskill", "recorder",
                             "--run-dir", str(self.paths.root)]
        self.pending = []  # type: List[Path]
        self.triggered = []  # type: List[int]   training episode counts that triggered
        self.skipped = 0
        self.restarts = 0
        self.proc = None  # type: Optional[subprocess.Popen]
        for old in self.snapshot_dir.glob("*.pt"):   # left by a training that was killed
            _unlink(old)
        self._start()

    @property
    def snapshot_dir(self) -> Path:
        return self.paths.videos_dir / SNAPSHOT_DIR

    def _start(self) -> None:
        # same process group (a stop of the run reaches it); its output goes into our log.
        # Mesa's lavapipe rasterizes with a thread per core: one thread keeps the recorder on
        # one core, and the recorder lowers its own priority, so training keeps the other.
        env = dict(os.environ)
        env.setdefault("LP_NUM_THREADS", "1")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, close_fds=True, env=env)

    def resume_from(self, episodes: int) -> None:
        """After a resume: the next video is at the next multiple past ``episodes``."""
        self.next_at = (episodes // self.interval + 1) * self.interval

    def due(self, episodes: int) -> bool:
        return episodes >= self.next_at

    def on_episodes(self, episodes: int, step: int,
                    snapshot: Callable[[int], Dict[str, Any]]) -> bool:
        """Call when episodes finished; True when a video was handed to the recorder."""
        crossed, missed, self.next_at = video_trigger(episodes, self.next_at, self.interval)
        if crossed is None:
            return False
        self.skipped += missed
        self.pending = [p for p in self.pending if p.exists()]
        if len(self.pending) >= MAX_PENDING:
            self.skipped += 1
            self.say("video at training episode %d skipped: %d still waiting for the recorder"
                     % (crossed, len(self.pending)))
            return False
        if not self._alive():
            return False
        path = self.snapshot_dir / ("ep%09d_step%09d.pt" % (crossed, step))
        payload = snapshot(step)
        import torch

        atomic_write_with(path, lambda f: torch.save(payload, f), durable=False)
        job = {"snapshot": str(path), "train_episode": crossed, "step": int(step)}
        try:
            assert self.proc is not None and self.proc.stdin is not None
            self.proc.stdin.write((json.dumps(job) + "\n").encode("utf-8"))
            self.proc.stdin.flush()
        except (OSError, ValueError):
            _unlink(path)
            self.skipped += 1
            return False
        self.pending.append(path)
        self.triggered.append(crossed)
        return True

    def _alive(self) -> bool:
        """Is the recorder running? Start it again (a bounded number of times) if not."""
        if self.proc is not None and self.proc.poll() is None:
            return True
        code = self.proc.returncode if self.proc is not None else None
        for p in self.pending:
            _unlink(p)
        self.pending = []
        if self.restarts >= MAX_RESTARTS:
            return False
        self.restarts += 1
        self.say("video recorder exited with code %s; starting it again (%d/%d)"
                 % (code, self.restarts, MAX_RESTARTS))
        self._start()
        return True

    def close(self, drain: bool, timeout: float = DRAIN_TIMEOUT_S) -> None:
        """End of training: close the recorder's input and let it finish the queue (``drain``),
        or stop it now (a stop of the run: it has the signal already, or gets SIGTERM)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass
        if drain and self.pending:
            self.say("waiting for the video recorder to finish %d video(s)" % len(
                [p for p in self.pending if p.exists()]))
        try:
            proc.wait(timeout if drain else 30.0)
        except subprocess.TimeoutExpired:
            self.say("video recorder still busy after %.0f s; stopping it" % (
                timeout if drain else 30.0))
            proc.terminate()
            try:
                proc.wait(30.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for p in self.pending:
            _unlink(p)
        self.pending = []

    def say(self, line: str) -> None:
        try:
            self.out.write(line + "\n")
            self.out.flush()
        except (OSError, ValueError):
            pass


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass

