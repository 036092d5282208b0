"""``python -m runners.maniskill record``: N episodes of one checkpoint to an mp4 in ``videos/``.

Same episodes as a training video (settle, overlay, trajectory with ``save_trajectory``), from a
checkpoint file instead of a live snapshot. The file is named and indexed only when complete; a
stop signal ends the recording early and keeps the part recorded so far if it holds a frame.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from runners.protocol import CheckpointLoadError, latest_link_target, resolve_checkpoint_path
from runners.rendering.offscreen import parse_size
from runners.stop_flag import StopFlag

from .checkpoint import load_policy
from .config import RunnerConfig
from .video_maker import VideoMaker


def record_main(run_dir: Path, cfg: RunnerConfig, args: Any, stop: StopFlag) -> int:
    if args.episodes < 1:
        raise ValueError("--episodes must be >= 1, found %d" % args.episodes)
    width = height = None
    if args.size:
        width, height = parse_size(args.size, "--size")
        if width % 2 or height % 2:
            raise ValueError("--size %s: mp4 needs even width and height" % args.size)
    ckpt = resolve_checkpoint_path(run_dir, str(args.checkpoint or "nn/latest.pth"))
    if not ckpt.is_file():
        raise CheckpointLoadError(ckpt, "file does not exist")
    ckpt = latest_link_target(ckpt) or ckpt  # name the numbered file latest.pth is now
    import torch

    torch.set_num_threads(1)
    maker = VideoMaker(run_dir, cfg, width=width, height=height, fps=args.fps,
                       max_steps=args.max_steps, settle_steps=args.settle_steps, stop=stop)
    try:
        policy, step = load_policy(ckpt, cfg.env_id, cfg.obs_mode, maker.spec, maker.act_low,
                                   maker.act_high)
        entry = maker.record(policy, ckpt.name, str(ckpt), step, episodes=args.episodes,
                             source="record", seed=cfg.seed + 20000)
    finally:
        maker.close()
    if entry is None:
        maker.say("nothing recorded (stopped by %s)" % stop.name)
        return 0
    maker.say("recorded videos/%s: %d episodes, %d frames at %.0f fps, %dx%d, returns %s"
              % (entry.file, entry.episodes, entry.frames, entry.fps, entry.width,
                 entry.height, [round(r, 2) for r in entry.returns]))
    return 0
