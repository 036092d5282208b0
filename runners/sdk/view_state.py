"""What a display may show about the policy (the overlay): the player keeps it current."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from runners.protocol import latest_link_target


def checkpoint_label(path: Path) -> str:
    """``latest.pth`` is a hard link to a numbered file: show that one's name too."""
    twin = latest_link_target(path)
    return "%s (%s)" % (twin.name, path.stem) if twin is not None else path.name


class ViewState(object):
    def __init__(self, env_label: str):
        self.env_label = env_label
        self.checkpoint = None  # type: Optional[str]
        self.label = None  # type: Optional[str]   e.g. "ckpt_000002048.pth (latest)"
        self.step = None  # type: Optional[int]
        self.episode = 0
        self.episode_return = None  # type: Optional[float]  (last finished episode)
        self.return_so_far = 0.0
        self.env_steps = 0

    def set_checkpoint(self, path: Path, step: Optional[int]) -> None:
        self.checkpoint = str(path)
        self.label = checkpoint_label(path)
        self.step = step

    def lines(self) -> Tuple[str, ...]:
        name = self.label or (Path(self.checkpoint).name if self.checkpoint else "-")
        first = "%s  step %s" % (name, "-" if self.step is None else self.step)
        last = "-" if self.episode_return is None else "%.1f" % self.episode_return
        second = "episode %d  return %.1f  last %s" % (self.episode + 1, self.return_so_far, last)
        return first, second

    def meta(self) -> Dict[str, Any]:
        return {"checkpoint": self.checkpoint, "checkpoint_step": self.step,
                "episode": self.episode, "episode_return": self.episode_return,
                "return_so_far": round(self.return_so_far, 4), "env_steps": self.env_steps,
                "env_id": self.env_label}
