"""Videos during training, off the hot path (``record_video: true`` in the profile).

Every ``video_record_interval`` finished training *episodes* (the ManiSkill seed counted steps by
mistake) the trainer snapshots its live policy (actor + observation statistics, a few KB to MB)
to ``videos/.snapshots/`` and a separate process (``python -m runners.mujoco record --source
training``) renders it in an eval env of its own and encodes the mp4. Training never waits on
rendering: the recorder runs on another core, one at a time; snapshots queue (at most
``MAX_QUEUED``; more are skipped and counted). The recorder is in the trainer's process group, so
a stop of the run stops it too; at the normal end of training the queue is drained.
"""
from __future__ import annotations

import collections
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any, Callable, Deque, Dict, List, Optional, Tuple

from runners.protocol import RunPaths, atomic_write_with
from runners.protocol.runner_args import record_args

from .config import VideoConfig

MAX_QUEUED = 4
DRAIN_TIMEOUT_S = 300.0
SNAPSHOT_DIR = ".snapshots"


class TrainingVideos(object):
    def __init__(self, run_dir: Path, video: VideoConfig, env_id: str,
                 out: IO[str] = sys.stdout):
        self.paths = RunPaths(run_dir)
        self.cfg = video
        self.env_id = env_id
        self.out = out
        self.interval = int(video.video_record_interval)
        self.next_at = self.interval
        self.queue = collections.deque()  # type: Deque[Tuple[int, Path]]
        self.running = None  # type: Optional[Tuple[int, subprocess.Popen]]
        self.triggered = []  # type: List[int]   training episode counts that triggered
        self.skipped = 0
        self.failed = 0

    @property
    def snapshot_dir(self) -> Path:
        return self.paths.videos_dir / SNAPSHOT_DIR

    def resume_from(self, episodes: int) -> None:
        """After a resume: the next recording is at the next multiple past ``episodes``."""
        self.next_at = (episodes // self.interval + 1) * self.interval

    def on_episodes(self, episodes: int, step: int,
                    snapshot: Callable[[int], Dict[str, Any]]) -> None:
        """Call after each env step with the total of finished training episodes."""
        if episodes < self.next_at:
            return
        crossed = episodes // self.interval * self.interval  # several at once: record the last
        missed = (crossed - self.next_at) // self.interval
        self.skipped += missed
        self.next_at = crossed + self.interval
        if len(self.queue) >= MAX_QUEUED:
            self.skipped += 1
            self.say("video at training episode %d skipped: %d recordings still queued"
                     % (crossed, len(self.queue)))
            return
        path = self.snapshot_dir / ("ep%09d_step%09d.pth" % (crossed, step))
        payload = snapshot(step)
        import torch

        atomic_write_with(path, lambda f: torch.save(payload, f), durable=False)
        self.triggered.append(crossed)
        self.queue.append((crossed, path))
        self.pump()

    def pump(self) -> None:
        """Reap a finished recorder and start the next one; cheap, call often."""
        if self.running is not None:
            ep, proc = self.running
            if proc.poll() is None:
                return
            if proc.returncode != 0:
                self.failed += 1
                self.say("video recorder for training episode %d exited with code %s"
                         % (ep, proc.returncode))
            self.running = None
        if self.queue:
            ep, path = self.queue.popleft()
            argv = [sys.executable, "-m", "runners.mujoco"] + record_args(
                self.paths.root, "train-video", self.cfg.video_episodes, path) + [
                "--source", "training", "--train-episode", str(ep), "--delete-checkpoint"]
            # same process group (a stop of the run reaches it); output into our log
            self.say("recording a video of training episode %d (%s)" % (ep, path.name))
            self.running = (ep, subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                                 close_fds=True))

    def close(self, drain: bool, timeout: float = DRAIN_TIMEOUT_S) -> None:
        """At the end of training: finish the queue (``drain``) or drop it (a stop)."""
        deadline = time.monotonic() + timeout
        if not drain:
            for _ep, path in self.queue:
                _unlink(path)
            self.queue.clear()
        while self.running is not None or self.queue:
            self.pump()
            if self.running is None:
                break
            if time.monotonic() > deadline:
                ep, proc = self.running
                self.say("video recorder for training episode %d still running after %.0f s; "
                         "stopping it" % (ep, timeout))
                proc.terminate()
                proc.wait(30)
                self.running = None
                break
            time.sleep(0.1)
        for _ep, path in self.queue:
            _unlink(path)
        self.queue.clear()

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
