"""``python -m runners.maniskill recorder --run-dir D``: the long-lived training-video recorder.

Started once by the trainer (``record_video: true``), it pays SAPIEN's renderer start-up (5-25 s)
once, then waits for jobs on its stdin, one JSON object a line::

    {"snapshot": "/abs/run/videos/.snapshots/ep000000050_step000012000.pt",
     "train_episode": 50, "step": 12000}

For each it loads the policy snapshot, records ``video_episodes`` episodes in its own CPU env
(:class:`~runners.maniskill.video_maker.VideoMaker`: settle, overlay, trajectory), indexes the
mp4 in ``videos/index.jsonl`` and deletes the snapshot. End of input (the trainer closed the pipe
or died) ends it once the jobs read so far are done; SIGINT/SIGTERM end the current video early
(the part recorded so far is kept) and drop the rest.
"""
from __future__ import annotations

import json
import os
import select
import sys
from pathlib import Path
from typing import IO, Any, Dict, Iterator, Optional

from runners.protocol import CheckpointLoadError
from runners.sdk.stop_flag import StopFlag

from .checkpoint import load_policy
from .config import RunnerConfig
from .video_maker import VideoMaker

POLL_S = 0.5
RECORDER_NICE = 10


def read_jobs(fd: int, stop: StopFlag) -> Iterator[Dict[str, Any]]:
    """Job objects from ``fd`` until end of input or a stop; bad lines are reported, skipped."""
    buf = b""
    while not stop.is_set():
        try:
            ready, _, _ = select.select([fd], [], [], POLL_S)
        except InterruptedError:
            continue
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if not line.strip():
                continue
            try:
                job = json.loads(line.decode("utf-8"))
                if not isinstance(job, dict) or not isinstance(job.get("snapshot"), str):
                    raise ValueError("expected an object with a 'snapshot' path")
            except ValueError as e:
                print("recorder: bad job line %r: %s" % (line[:200], e), flush=True)
                continue
            yield job


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def run_recorder(run_dir: Path, cfg: RunnerConfig, stop: StopFlag,
                 inp: Optional[IO[bytes]] = None, out: IO[str] = sys.stdout) -> int:
    import torch

    torch.set_num_threads(1)   # the trainer has the other cores' worth of work
    try:
        os.nice(RECORDER_NICE)   # on a busy box training goes first; videos come later
    except OSError:
        pass
    maker = VideoMaker(run_dir, cfg, stop=stop, out=out)
    try:
        took = maker.warm_up()
        maker.say("video recorder ready (renderer started in %.1f s; %dx%d at %.0f fps, "
                  "settle %d steps, at most %d steps an episode%s)"
                  % (took, maker.width, maker.height, maker.fps, maker.settle_steps,
                     maker.max_steps, ", with trajectories" if maker.save_trajectory else ""))
        fd = (inp if inp is not None else sys.stdin.buffer).fileno()
        done = failed = 0
        for job in read_jobs(fd, stop):
            snap = Path(job["snapshot"])
            ep = job.get("train_episode")
            try:
                policy, step = load_policy(snap, cfg.env_id, cfg.obs_mode, maker.spec,
                                           maker.act_low, maker.act_high)
                entry = maker.record(policy, "TRAINING EP %s" % ep, "", step,
                                     episodes=cfg.video.video_episodes, source="training",
                                     train_episode=ep if isinstance(ep, int) else None,
                                     seed=cfg.seed * 7919 + (ep or 0))
            except CheckpointLoadError as e:
                failed += 1
                maker.say("video of training episode %s not recorded: %s" % (ep, e))
                continue
            finally:
                _unlink(snap)
            if entry is None:
                break   # stopped before the first frame
            done += 1
            maker.say("recorded videos/%s (training episode %s, step %s): returns %s"
                      % (entry.file, ep, entry.step, [round(r, 2) for r in entry.returns]))
        maker.say("video recorder exits: %d videos, %d failed%s"
                  % (done, failed, " (stopped by %s)" % stop.name if stop.is_set() else ""))
        return 0
    finally:
        maker.close()
