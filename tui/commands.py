"""The command palette (ctrl+p): open a run, launch a profile, switch tabs, act on the run.

Commands post the same request messages (:mod:`tui.messages`) as the keys do, to the screen
shown; nothing here imports the app."""
from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Callable, Iterator

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.message import Message

from tui.context import AppContext, context_of
from tui.messages import (CheckpointRequested, CloseRunRequested, HelpRequested,
                          LaunchRequested, OpenRunRequested, RecordRequested, RestartRequested,
                          StopRequested, ViewerRequested)

if TYPE_CHECKING:   # the run view is imported when first used (the runs screen starts fast)
    from tui.screens.run_view import RunScreen

Command = tuple[str, Callable[[], object], str]
MAX_RUNS = 500


def _record_selected(screen: "RunScreen") -> None:
    """The checkpoints tab, and the record dialog for the checkpoint under its cursor."""
    screen.action_tab("checkpoints")

    def then() -> None:
        screen.refresh_from_model()          # the tab's list, filled now rather than at a tick
        screen.pane("checkpoints").action_record()
    screen.call_after_refresh(then)


def _play_newest(screen: "RunScreen") -> None:
    screen.action_tab("preview")
    screen.pane("preview").play_newest()


class PitwallCommands(Provider):
    @property
    def ctx(self) -> AppContext:
        return context_of(self.app)

    def _post(self, message: Message) -> Callable[[], object]:
        return partial(self.screen.post_message, message)

    def commands(self) -> Iterator[Command]:
        from tui.screens.run_view import RunScreen

        ctx = self.ctx
        screen = self.screen
        post = self._post
        if isinstance(screen, RunScreen):
            path = screen.path
            yield ("Back to the runs list", post(CloseRunRequested()), "leave this run's view")
            for tab in ("metrics", "logs", "checkpoints", "processes", "preview"):
                yield ("Show %s" % tab, partial(screen.action_tab, tab), "tab of this run")
            yield ("Start a viewer for this run", post(ViewerRequested(path)),
                   "choose the display (or none)")
            yield ("Start a headless viewer for this run", post(ViewerRequested(path, "none")),
                   "display none: its frames on the preview tab")
            yield ("Record a video of the newest checkpoint",
                   post(RecordRequested(path, None, 1)), "one episode, offscreen")
            yield ("Record a video of a checkpoint ...", partial(_record_selected, screen),
                   "the checkpoints tab: r on the one to record")
            yield ("Play the newest video here", partial(_play_newest, screen),
                   "in the terminal, on the preview tab")
            yield ("Checkpoints: auto mode", post(CheckpointRequested(path, "auto")),
                   "viewers follow the newest checkpoint")
            yield ("Stop this run", post(StopRequested(path)), "SIGINT, SIGTERM, SIGKILL")
            yield ("Restart this run", post(RestartRequested(path)), "stop, then start again")
        yield ("Launch a run", post(LaunchRequested()), "pick a profile and edit its parameters")
        for name in ctx.profile_names():
            yield ("Launch profile %s" % name, post(LaunchRequested(name)),
                   "open the launch screen on it")
        yield ("Keys and help", post(HelpRequested()), "every binding and its id")
        for row in ctx.model.runs.rows[:MAX_RUNS]:
            yield ("Open run %s" % row.name, post(OpenRunRequested(row.path)),
                   "%s  %s" % (row.status_text, row.profile))
        yield ("Quit Pitwall", self.app.action_quit, "runs keep running")

    async def discover(self) -> Hits:
        for name, cb, help_text in self.commands():
            yield DiscoveryHit(name, cb, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, cb, help_text in self.commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), cb, help=help_text)
