"""Write a headless viewer's newest frame to ``preview/<id>.png`` a few times a second."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, Optional, Union

import numpy as np

from runners.protocol import write_preview


class PreviewWriter(object):
    """Throttled: :meth:`due` says when the next frame is wanted; :meth:`now` makes the next
    one due at once (after a checkpoint swap, so the preview shows the new policy at once)."""

    def __init__(self, run_dir: Union[str, Path], viewer_id: str, hz: float = 4.0):
        self.run_dir = Path(run_dir)
        self.viewer_id = viewer_id
        self.interval = 1.0 / hz if hz > 0 else float("inf")
        self._next = 0.0
        self.frames = 0
        self.last_error = None  # type: Optional[str]

    @property
    def enabled(self) -> bool:
        return self.interval != float("inf")

    def due(self, now: Optional[float] = None) -> bool:
        return self.enabled and (now if now is not None else time.monotonic()) >= self._next

    def now(self) -> None:
        self._next = 0.0

    def write(self, frame: np.ndarray, meta: Dict[str, Any]) -> None:
        h, w = frame.shape[:2]
        info = dict(meta)
        info["frame"] = self.frames
        info.setdefault("time", time.time())
        write_preview(self.run_dir, self.viewer_id, np.ascontiguousarray(frame).tobytes(), w, h,
                      info)
        self.frames += 1
        self._next = time.monotonic() + self.interval
