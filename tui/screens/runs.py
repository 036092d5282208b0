"""The runs screen: every run under the root, live, filterable; the place every action starts."""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from tui.context import AppContext, context_of
from tui.core.runs_list_model import RunRow
from tui.messages import (DeleteRequested, LaunchRequested, OpenRunRequested,
                          RestartRequested, StopRequested, ViewerRequested)
from tui.widgets.formatting import display_path
from tui.widgets.run_table import RunTable


class RunsScreen(Screen):
    BINDINGS = [
        Binding("enter", "open", "Open", id="runs.open"),
        Binding("slash", "filter", "Filter", id="runs.filter"),
        Binding("l", "launch", "Launch", id="runs.launch"),
        Binding("v", "viewer", "Viewer", id="runs.viewer"),
        Binding("s", "stop", "Stop", id="runs.stop"),
        Binding("K", "kill", "Kill", id="runs.kill", show=False),
        Binding("R", "restart", "Restart", id="runs.restart", show=False),
        Binding("D", "delete", "Delete", id="runs.delete", show=False),
        Binding("escape", "clear_filter", "Clear filter", id="runs.clear_filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="runs-screen")
        self._version = -1
        self._filter = ""
        self._status_text = ""
        self._title_text = ""

    @property
    def papp(self) -> AppContext:
        return context_of(self.app)

    def compose(self) -> ComposeResult:
        yield Static(id="runs-title", classes="title-bar")
        yield Input(placeholder="filter runs: words in name, profile, status  (esc clears)",
                    id="runs-filter")
        yield RunTable(self.papp.clock, id="runs-table")
        yield Static(id="runs-status", classes="status-bar")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#runs-filter", Input).display = False
        self.table.focus()
        self.refresh_from_model()

    @property
    def table(self) -> RunTable:
        return self.query_one("#runs-table", RunTable)

    # ------------------------------------------------------------------ rendering
    def refresh_from_model(self) -> None:
        snap = self.papp.model.runs
        table = self.table
        if snap.version != self._version:
            self._version = snap.version
            rows = tuple(r for r in snap.rows if not self._filter or r.matches(self._filter))
            table.set_rows(rows)
            self._title(len(snap.rows), sum(1 for r in snap.rows if r.live), len(rows),
                        snap.partial)
            self._status(table.current)
        else:
            table.refresh_cells()
        self.papp.model.set_visible(table.visible_names())

    def _title(self, total: int, live: int, shown: int, partial: bool = False) -> None:
        text = "[b]Pitwall[/b]  %s   [b]%d[/b] run%s, [green]%d live[/green]" % (
            display_path(self.papp.root), total, "" if total == 1 else "s", live)
        if partial:
            text = "[b]Pitwall[/b]  %s   newest runs shown, reading the others ..." % (
                display_path(self.papp.root))
        if self._filter:
            text += "   filter [b]%s[/b]: %d shown" % (self._filter, shown)
        if text != self._title_text:
            self._title_text = text
            self.query_one("#runs-title", Static).update(text)

    def _status(self, row: RunRow | None) -> None:
        """The highlighted run; nothing here changes every second (idle output stays low)."""
        if row is None:
            text = "No runs under this root yet: press [b]l[/b] to launch one."
        elif row.error:
            text = "[red]%s[/red]" % _escape(row.error)
        else:
            text = "%s  %s  %s" % (row.name, row.profile or "", row.status_text)
            if row.headline:
                text += "  metric %s" % row.headline
        if text != self._status_text:
            self._status_text = text
            self.query_one("#runs-status", Static).update(text)

    @on(RunTable.Highlighted)
    def _highlighted(self, event: RunTable.Highlighted) -> None:
        self._status(self.table.current)
        self.papp.model.set_visible(self.table.visible_names())

    @on(RunTable.Selected)
    def _selected(self, event: RunTable.Selected) -> None:
        self.action_open()

    # ------------------------------------------------------------------ filter
    def action_filter(self) -> None:
        inp = self.query_one("#runs-filter", Input)
        inp.display = True
        inp.focus()

    @on(Input.Changed, "#runs-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._filter = event.value.strip()
        self._version = -1
        self.refresh_from_model()

    @on(Input.Submitted, "#runs-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        self.table.focus()

    def action_clear_filter(self) -> None:
        inp = self.query_one("#runs-filter", Input)
        if inp.value:
            inp.value = ""
        inp.display = False
        self.table.focus()

    # ------------------------------------------------------------------ actions
    def _current(self) -> RunRow | None:
        row = self.table.current
        if row is None:
            self.notify("no run selected", severity="warning")
        return row

    def action_open(self) -> None:
        row = self._current()
        if row is not None:
            self.post_message(OpenRunRequested(row.path))

    def action_launch(self) -> None:
        self.post_message(LaunchRequested())

    def action_viewer(self) -> None:
        row = self._current()
        if row is not None:
            self.post_message(ViewerRequested(row.path))

    def action_stop(self) -> None:
        row = self._current()
        if row is not None:
            self.post_message(StopRequested(row.path))

    def action_kill(self) -> None:
        row = self._current()
        if row is not None:
            self.post_message(StopRequested(row.path, kill=True))

    def action_restart(self) -> None:
        row = self._current()
        if row is not None:
            self.post_message(RestartRequested(row.path))

    def action_delete(self) -> None:
        row = self._current()
        if row is not None:
            self.post_message(DeleteRequested(row.path, live=row.live or row.viewers_alive > 0))

    def select_run(self, name: str) -> None:
        self.refresh_from_model()
        self.table.select_name(name)


def _escape(text: str) -> str:
    return text.replace("[", r"\[")
