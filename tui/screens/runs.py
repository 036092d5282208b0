"""The runs screen: every run under the root, live, filterable; the place every action starts."""
from __future__ import annotations

import time

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Static

from tui.context import AppContext, context_of
from tui.core.runs_list_model import RunRow
from tui.messages import (CompareRequested, DeleteRequested, LaunchRequested,
                          RestartRequested, StopRequested, SystemRequested, ViewerRequested)
from tui.widgets.formatting import display_path, summary_line
from tui.widgets.key_footer import KeyFooter
from tui.widgets.run_table import RunTable

MACHINE_EVERY_S = 5.0    # the machine's line in the title is looked at this often


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
        Binding("space", "mark", "Mark", id="runs.mark", show=False),
        Binding("asterisk", "mark_group", "Mark sweep/profile", id="runs.mark_group",
                show=False),
        Binding("u", "unmark", "Unmark all", id="runs.unmark", show=False),
        Binding("c", "compare", "Compare", id="runs.compare"),
        Binding("m", "system", "Machine", id="runs.system", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="runs-screen")
        self._version = -1
        self._filter = ""
        self._status_text = ""
        self._title_text = ""
        self.marks: dict[str, int] = {}     # runs marked for comparison -> colour index
        self._machine = ""
        self._machine_at = -1e9
        self._shown = 0

    @property
    def papp(self) -> AppContext:
        return context_of(self.app)

    def compose(self) -> ComposeResult:
        yield Static(id="runs-title", classes="title-bar")
        yield Input(placeholder="filter runs: words in name, profile, status  (esc clears)",
                    id="runs-filter")
        yield RunTable(self.papp.clock, id="runs-table")
        yield Static(id="runs-status", classes="status-bar")
        yield KeyFooter()

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
            self._shown = len(rows)
            self._title(len(snap.rows), sum(1 for r in snap.rows if r.live), len(rows),
                        snap.partial)
            self._status(table.current)
        else:
            table.refresh_cells()
        self._machine_line(snap)
        self.papp.model.set_visible(table.visible_names())

    def _machine_line(self, snap) -> None:
        """The machine's CPU/RAM/GPU in the title, looked at every few seconds (an idle list
        writes little to the terminal)."""
        now = time.monotonic()
        machine = self.papp.model.machine
        if now - self._machine_at < MACHINE_EVERY_S or not machine.version:
            return
        self._machine_at = now
        text = summary_line(machine)
        if text != self._machine:
            self._machine = text
            self._title(len(snap.rows), sum(1 for r in snap.rows if r.live),
                        self._shown, snap.partial)

    def _title(self, total: int, live: int, shown: int, partial: bool = False) -> None:
        text = "[b]Pitwall[/b]  %s   [b]%d[/b] run%s, [green]%d live[/green]" % (
            display_path(self.papp.root), total, "" if total == 1 else "s", live)
        if partial:
            text = "[b]Pitwall[/b]  %s   newest runs shown, reading the others ..." % (
                display_path(self.papp.root))
        if self._filter:
            text += "   filter [b]%s[/b]: %d shown" % (self._filter, shown)
        elif self._machine:
            text += "   [dim]%s (m)[/dim]" % self._machine
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
            if row.sweep_id:
                text += "  sweep %s" % row.sweep_id
            if row.headline:
                text += "  metric %s" % row.headline
        if self.marks:
            text += "   [b]%d marked[/b]: c compares" % len(self.marks)
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
        if row is not None:   # at once, not by a message: keys typed next go to the run view
            from .run_view import open_run_screen

            open_run_screen(self.app, row.path)

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

    # ------------------------------------------------------------------ compare
    def _mark(self, names: list[str], on: bool) -> None:
        for name in names:
            if on and name not in self.marks:
                used = set(self.marks.values())
                self.marks[name] = next(i for i in range(len(used) + 1) if i not in used)
            elif not on:
                self.marks.pop(name, None)
        self.table.set_marks(self.marks)
        self._status(self.table.current)

    def action_mark(self) -> None:
        row = self._current()
        if row is not None:
            self._mark([row.name], row.name not in self.marks)
            self.table.action_cursor(1)

    def action_mark_group(self) -> None:
        """Every run of the highlighted run's sweep (its profile when it is not in one)."""
        row = self._current()
        if row is None:
            return
        rows = self.papp.model.runs.rows
        if row.sweep_id:
            group = [r.name for r in rows if r.sweep_id == row.sweep_id]
            what = "sweep %s" % row.sweep_id
        else:
            group = [r.name for r in rows if r.profile == row.profile]
            what = "profile %s" % (row.profile or "?")
        on = not all(n in self.marks for n in group)
        self._mark(group, on)
        self.notify("%s %d runs of %s" % ("marked" if on else "unmarked", len(group), what))

    def action_unmark(self) -> None:
        self._mark(list(self.marks), False)

    def action_compare(self) -> None:
        names = sorted(self.marks, key=lambda n: self.marks[n])
        rows = {r.name: r for r in self.papp.model.runs.rows}
        paths = [rows[n].path for n in names if n in rows]
        if len(paths) < 2:
            self.notify("mark two runs or more to compare: space marks one, * a whole sweep "
                        "(or profile)", severity="warning")
            return
        self.post_message(CompareRequested(paths, self.marks))

    def action_system(self) -> None:
        self.post_message(SystemRequested())

    def select_run(self, name: str) -> None:
        self.refresh_from_model()
        self.table.select_name(name)


def _escape(text: str) -> str:
    return text.replace("[", r"\[")
