"""The processes of the run in view: training roles, then viewers (with the display they open
on), then recorders; pid, CPU %, RSS, uptime, exit status."""
from __future__ import annotations

from rich.text import Text

from tui.core.run_detail_model import RunDetail

from .formatting import duration, size, status_style
from .keyed_table import KeyedTable

COLUMNS = [("role", "ROLE", 10), ("kind", "KIND", 6), ("display", "DISPLAY", 8),
           ("state", "STATE", 8), ("pid", "PID", 7), ("cpu", "CPU%", 4), ("rss", "RSS", 6),
           ("uptime", "UPTIME", 7), ("exit", "EXIT", 5)]


class ProcessTable(KeyedTable):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(COLUMNS, id=id)

    def show(self, detail: RunDetail) -> None:
        rows = []
        for r in detail.roles:
            if r.signal is not None:
                exit_text = "sig %d" % r.signal
            elif r.exit_code is not None:
                exit_text = str(r.exit_code)
            else:
                exit_text = ""
            display = r.display if r.is_viewer else ("video" if r.is_recorder else "")
            rows.append((r.role, (
                r.role, r.kind, display, Text(r.state, style=status_style(r.state)),
                "" if r.pid is None else str(r.pid),
                "" if r.cpu is None else "%.0f" % r.cpu,
                size(r.rss) if r.rss is not None else "",
                duration(r.uptime) if r.uptime is not None else "",
                exit_text,
            )))
        self.set_rows(rows)
