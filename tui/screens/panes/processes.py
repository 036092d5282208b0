"""Processes of the run: pid, CPU %, RSS, uptime, exit; stop / kill / restart one role."""
from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from tui.core.run_view_model import RunDetail
from tui.widgets.process_table import ProcessTable

if TYPE_CHECKING:
    from tui.app import PitwallApp


class ProcessesPane(Vertical):
    BINDINGS = [
        Binding("s", "stop", "Stop role", id="processes.stop"),
        Binding("k", "kill", "Kill role", id="processes.kill"),
        Binding("r", "restart", "Restart role", id="processes.restart"),
    ]

    def __init__(self) -> None:
        super().__init__(id="pane-processes")
        self.detail: RunDetail | None = None
        self._key: object = None

    @property
    def papp(self) -> "PitwallApp":
        return cast("PitwallApp", self.app)

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
        parts = ["[b]%s[/b] %s" % (r.role, r.text)]
        if r.started_at:
            parts.append("started %s" % r.started_at[11:19])
        if r.exited_at:
            parts.append("ended %s" % r.exited_at[11:19])
        if r.threads:
            parts.append("%d threads" % r.threads)
        if r.error and r.state != "running":
            parts.append("[red]%s[/red]" % r.error.replace("[", r"\["))
        parts.append("[dim]s stop · k kill · r restart[/dim]")
        self.query_one("#procs-info", Static).update("   ".join(parts))

    def _role(self) -> str | None:
        return self.query_one(ProcessTable).current_key

    def action_stop(self) -> None:
        role = self._role()
        if role is not None and self.detail is not None:
            self.papp.stop_run(self.detail.path, roles=[role])

    def action_kill(self) -> None:
        role = self._role()
        if role is not None and self.detail is not None:
            self.papp.stop_run(self.detail.path, roles=[role], kill=True)

    def action_restart(self) -> None:
        role = self._role()
        if role is not None and self.detail is not None:
            self.papp.restart_run(self.detail.path, roles=[role])
