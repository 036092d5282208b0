"""The run view: metrics, logs, checkpoints, processes and the preview of one run, as tabs."""
from __future__ import annotations

from pathlib import Path
from typing import cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Static, TabbedContent, TabPane

from tui.context import AppContext, context_of
from tui.core.run_detail_model import RunDetail
from tui.messages import (CheckpointChosen, CloseRunRequested, RestartRequested,
                          ShowLogRequested, StopRequested, ViewerRequested)
from tui.widgets.formatting import status_style
from tui.widgets.key_footer import KeyFooter

from .panes.checkpoints import CheckpointsPane
from .panes.logs import LogsPane
from .panes.metrics import MetricsPane
from .panes.playback import PlaybackPane
from .panes.processes import ProcessesPane

TABS = ("metrics", "logs", "checkpoints", "processes", "preview")


class RunScreen(Screen):
    BINDINGS = [
        Binding("escape", "back", "Back", id="run.back"),
        Binding("1", "tab('metrics')", "Metrics", show=False, id="run.metrics"),
        Binding("2", "tab('logs')", "Logs", show=False, id="run.logs"),
        Binding("3", "tab('checkpoints')", "Checkpoints", show=False, id="run.checkpoints"),
        Binding("4", "tab('processes')", "Processes", show=False, id="run.processes"),
        Binding("5", "tab('preview')", "Preview", show=False, id="run.preview"),
        Binding("v", "viewer", "Viewer", id="run.viewer"),
        Binding("V", "viewer_headless", "Headless viewer", show=False,
                id="run.viewer_headless"),
        Binding("S", "stop", "Stop run", id="run.stop"),
        Binding("K", "kill", "Kill run", show=False, id="run.kill"),
        Binding("R", "restart", "Restart run", show=False, id="run.restart"),
    ]

    def __init__(self, path: Path, tab: str = "metrics") -> None:
        super().__init__(id="run-screen")
        self.path = Path(path)
        self.initial_tab = tab if tab in TABS else "metrics"
        self._title_key: object = None

    @property
    def papp(self) -> AppContext:
        return context_of(self.app)

    def compose(self) -> ComposeResult:
        yield Static("[b]%s[/b]  loading ..." % self.path.name, id="run-title",
                     classes="title-bar")
        with TabbedContent(initial=self.initial_tab, id="run-tabs"):
            with TabPane("1 Metrics", id="metrics"):
                yield MetricsPane()
            with TabPane("2 Logs", id="logs"):
                yield LogsPane()
            with TabPane("3 Checkpoints", id="checkpoints"):
                yield CheckpointsPane()
            with TabPane("4 Processes", id="processes"):
                yield ProcessesPane()
            with TabPane("5 Preview", id="preview"):
                yield PlaybackPane()
        yield KeyFooter()

    def on_mount(self) -> None:
        self.papp.model.focus(self.path)
        self.call_after_refresh(self._focus_pane)
        self.refresh_from_model()

    def on_screen_resume(self) -> None:
        self.papp.model.focus(self.path)
        self._watch_playback()

    def on_screen_suspend(self) -> None:
        self.papp.model.watch_playback(None)

    def on_unmount(self) -> None:
        self.papp.model.watch_playback(None)

    def _watch_playback(self) -> None:
        """Preview frames and videos are read only while their tab is visible."""
        if self.is_attached and self.active == "preview":
            self.papp.model.watch_playback(self.path, self.query_one(PlaybackPane).viewer)
        else:
            self.papp.model.watch_playback(None)

    # ------------------------------------------------------------------ rendering
    @property
    def active(self) -> str:
        return self.query_one(TabbedContent).active or "metrics"

    def pane(self, tab: str | None = None):
        return self.query_one("#pane-" + (tab or self.active))

    def refresh_from_model(self, only: str | None = None) -> None:
        detail = self.papp.model.detail
        if detail is None or detail.path != self.path or not self.is_attached:
            return
        try:
            self._show(detail, only)
        except NoMatches:  # the screen is being torn down (back, quit)
            pass

    def _show(self, detail: RunDetail, only: str | None) -> None:
        self._title(detail)
        logs = cast(LogsPane, self.pane("logs"))
        if self.active == "logs" or logs.role is None:
            logs.show(detail)
        else:
            logs.drain()
        if only is None or only == self.active:
            self.pane().show(detail)

    def refresh_checkpoints(self) -> None:
        """A checkpoint was saved: show it now, not at the next render tick."""
        if self.is_attached and self.active == "checkpoints":
            detail = self.papp.model.detail
            if detail is not None and detail.path == self.path:
                try:
                    cast(CheckpointsPane, self.pane("checkpoints")).show(detail)
                except NoMatches:
                    pass

    def _title(self, d: RunDetail) -> None:
        alive = sum(1 for r in d.roles if r.alive and r.is_training)
        total = sum(1 for r in d.roles if r.is_training)
        viewers = sum(1 for v in d.viewers if v.alive)
        recording = sum(1 for r in d.roles if r.alive and r.is_recorder)
        key = (d.name, d.status_text, alive, total, viewers, recording, d.profile)
        if key == self._title_key:
            return
        self._title_key = key
        style = status_style(d.status) or "bold"
        text = "[b]%s[/b]  [%s]%s[/]  roles %d/%d" % (d.name, style, d.status_text, alive,
                                                      total)
        if viewers:
            text += "  viewers %d" % viewers
        if recording:
            text += "  [yellow]recording[/yellow]"
        text += "  [dim]%s[/dim]" % d.profile
        self.query_one("#run-title", Static).update(text)

    @on(TabbedContent.TabActivated)
    def _tab_changed(self, event: TabbedContent.TabActivated) -> None:
        self._focus_pane()
        self._watch_playback()
        self.refresh_from_model()

    def _focus_pane(self) -> None:
        try:
            self.pane().focus_main()
        except Exception:
            pass

    # ------------------------------------------------------------------ keys
    def action_tab(self, tab: str) -> None:
        """Show ``tab``; pressed right after the view opened (its tabs not mounted yet), the
        choice is applied once they are."""
        self.initial_tab = tab
        try:
            tabs = self.query_one(TabbedContent)
        except NoMatches:
            return                      # compose() uses initial_tab
        tabs.active = tab

        def again() -> None:
            if tabs.is_attached and tabs.active != tab and self.initial_tab == tab:
                tabs.active = tab
        self.call_after_refresh(again)

    def action_back(self) -> None:
        self.post_message(CloseRunRequested())

    def action_viewer(self) -> None:
        self.post_message(ViewerRequested(self.path))

    def action_viewer_headless(self) -> None:
        self.post_message(ViewerRequested(self.path, "none"))

    def show_log(self, role: str) -> None:
        """The Logs tab, on ``role``'s log (a failed viewer's, from the processes tab)."""
        self.action_tab("logs")
        cast(LogsPane, self.pane("logs")).show_role(role)

    @on(ShowLogRequested)
    def _show_log_requested(self, msg: ShowLogRequested) -> None:
        msg.stop()
        self.show_log(msg.role)

    @on(CheckpointChosen)
    def _checkpoint_chosen(self, msg: CheckpointChosen) -> None:
        """Our choice was written: show it without waiting for the next render tick (the
        app still tells the user and refreshes the model)."""
        if msg.path == self.path:
            self.papp.model.poke()

    def action_stop(self) -> None:
        self.post_message(StopRequested(self.path))

    def action_kill(self) -> None:
        self.post_message(StopRequested(self.path, kill=True))

    def action_restart(self) -> None:
        self.post_message(RestartRequested(self.path))


def open_run_screen(app, path: Path, tab: str = "metrics") -> None:
    """Show ``path``'s run view now (keys typed right after ``enter`` go to it)."""
    path = Path(path)
    if isinstance(app.screen, RunScreen):
        if app.screen.path == path:
            return
        app.pop_screen()
    app.push_screen(RunScreen(path, tab))
