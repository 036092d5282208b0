"""The checkpoints of the run in view: file, step, time, size, reward at save, who shows it."""
from __future__ import annotations

import datetime as _dt

from rich.text import Text

from runners.protocol import CheckpointInfo
from tui.core.run_detail_model import RunDetail

from .formatting import num, size
from .keyed_table import KeyedTable

COLUMNS = [("mark", " ", 2), ("file", "FILE", None), ("step", "STEP", 9), ("saved", "SAVED", 8),
           ("size", "SIZE", 6), ("reward", "REWARD", 8), ("viewers", "SHOWN BY", None)]


def reward_at_save(c: CheckpointInfo, headline: str | None) -> float | None:
    if headline and headline in c.metrics:
        return c.metrics[headline]
    for k, v in c.metrics.items():
        if "return" in k or "reward" in k:
            return v
    return next(iter(c.metrics.values()), None)


class CheckpointList(KeyedTable):
    """Newest first; ``▶`` marks the checkpoint the state file asks for."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(COLUMNS, id=id)

    def show(self, detail: RunDetail) -> None:
        requested = detail.state.checkpoint_path if detail.state else None
        rows = []
        for c in reversed(detail.checkpoints.checkpoints):
            asked = requested is not None and str(c.path) == requested
            viewers = detail.viewers_on(c)
            pending = [v.id for v in detail.viewers if v.pending and asked]
            who = Text(", ".join(viewers), style="green")
            if pending:
                who.append((" " if viewers else "") + "waiting: " + ", ".join(pending),
                           style="yellow")
            rows.append((c.name, (
                Text("▶", style="bold yellow") if asked else "",
                Text(c.name, style="bold" if asked else ("dim" if c.is_latest else "")),
                "" if c.step is None else str(c.step),
                _dt.datetime.fromtimestamp(c.mtime).strftime("%H:%M:%S"),
                size(c.size),
                num(reward_at_save(c, detail.headline), 8),
                who,
            )))
        self.set_rows(rows)
