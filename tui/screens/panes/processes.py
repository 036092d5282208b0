"""Processes of the run: pid, CPU %, RSS, uptime, exit; stop / kill / restart one role, and
jump to its log (``l``). Viewers show their display; restarting one keeps it (and the checkpoint
it follows): the core starts the same argv and environment again."""
from __future__ import annotations


from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from tui.core.run_detail_model import RunDetail
from tui.messages import RestartRequested, ShowLogRequested, StopRequested
from tui.widgets.process_table import ProcessTable
from tui.screens.panes.base import RunPaneMixin



class ProcessesPane(RunPaneMixin, Vertical):
    BINDINGS = [
        Binding("s", "stop", "Stop role", id="processes.stop"),
        Binding("k", "kill", "Kill role", id="processes.kill"),
        Binding("r", "restart", "Restart role", id="processes.restart"),
        Binding("l", "log", "Its log", id="processes.log"),
    ]

    def __init__(self) -> None:
        super().__init__(id="pane-processes")
        self.detail: RunDetail | None = None
        self._key: object = None


    def compose(self) -> ComposeResult:
        yield ProcessTable(id="procs-table")
        yield Static("", id="procs-info", classes="status-bar")

    def focus_main(self) -> None:
        self.query_one(ProcessTable).focus()

    def show(self, detail: RunDetail) -> None:
        self.detail = detail
        key = detail.roles
        if key == self._key:
            return
        self._key = key
        self.query_one(ProcessTable).show(detail)
        self._info()

    def on_data_table_row_highlighted(self) -> None:
        self._info()

    def _info(self) -> None:
        role = self._role()
        if role is None or self.detail is None:
            return
        r = next((x for x in self.detail.roles if x.role == role), None)
        if r is None:
            return
        style = "red" if r.state in ("failed", "lost") else "b"
        parts = ["[b]%s[/b] [%s]%s[/%s]" % (r.role, style, _esc(r.text), style)]
        if r.is_viewer and r.display:
            parts.append("display %s" % r.display)
        if r.is_recorder:
            parts.append("records %s" % (r.target or "the newest"))
        if r.attempt > 1:
            parts.append("attempt %d" % r.attempt)
        if r.state in ("failed", "lost"):   # what to do first; the times after
            parts.append("[dim]l: log · r: restart%s[/dim]" % (
                " (same display)" if r.is_viewer else ""))
        if r.started_at:
            parts.append("started %s" % r.started_at[11:19])
        if r.exited_at:
            parts.append("ended %s" % r.exited_at[11:19])
        if r.error and r.state != "running" and r.error not in r.text:
            parts.append("[red]%s[/red]" % _esc(r.error))
        self.query_one("#procs-info", Static).update("  ".join(parts))

    def _role(self) -> str | None:
        return self.query_one(ProcessTable).current_key

    def action_stop(self) -> None:
        role = self._role()
        if role is not None and self.detail is not None:
            self.post_message(StopRequested(self.detail.path, roles=[role]))

    def action_kill(self) -> None:
        role = self._role()
        if role is not None and self.detail is not None:
            self.post_message(StopRequested(self.detail.path, roles=[role], kill=True))

    def action_log(self) -> None:
        role = self._role()
        if role is not None:
            self.post_message(ShowLogRequested(role))

    def action_restart(self) -> None:
        role = self._role()
        if role is not None and self.detail is not None:
            self.post_message(RestartRequested(self.detail.path, roles=[role]))


def _esc(text: str) -> str:
    return text.replace("[", r"\[")
