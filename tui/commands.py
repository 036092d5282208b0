"""The command palette (ctrl+p): open a run, launch a profile, switch tabs, act on the run."""
from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Callable, Iterator, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from tui.app import PitwallApp

Command = tuple[str, Callable[[], object], str]
MAX_RUNS = 500


def _record_selected(screen) -> None:
    """The checkpoints tab, and the record dialog for the checkpoint under its cursor."""
    screen.action_tab("checkpoints")

    def then() -> None:
        screen.refresh_from_model()          # the tab's list, filled now rather than at a tick
        screen.pane("checkpoints").action_record()
    screen.call_after_refresh(then)


def _play_newest(screen) -> None:
    screen.action_tab("preview")
    screen.pane("preview").play_newest()


class PitwallCommands(Provider):
    @property
    def papp(self) -> "PitwallApp":
        return cast("PitwallApp", self.app)

    def commands(self) -> Iterator[Command]:
        from tui.screens.run_view import RunScreen

        app = self.papp
        screen = self.screen
        if isinstance(screen, RunScreen):
            path = screen.path
            yield ("Back to the runs list", app.close_run, "leave this run's view")
            for tab in ("metrics", "logs", "checkpoints", "processes", "preview"):
                yield ("Show %s" % tab, partial(screen.action_tab, tab), "tab of this run")
            yield ("Start a viewer for this run", partial(app.choose_display_and_start_viewer,
                                                          path), "choose the display (or none)")
            yield ("Start a headless viewer for this run", partial(app.start_viewer, path,
                                                                   "none"),
                   "display none: its frames on the preview tab")
            yield ("Record a video of the newest checkpoint",
                   partial(app.record_video, path, None, 1), "one episode, offscreen")
            yield ("Record a video of a checkpoint ...", partial(_record_selected, screen),
                   "the checkpoints tab: r on the one to record")
            yield ("Play the newest video here", partial(_play_newest, screen),
                   "in the terminal, on the preview tab")
            yield ("Checkpoints: auto mode", partial(app.select_checkpoint, path, "auto", None),
                   "viewers follow the newest checkpoint")
            yield ("Stop this run", partial(app.stop_run, path), "SIGINT, SIGTERM, SIGKILL")
            yield ("Restart this run", partial(app.restart_run, path), "stop, then start again")
        yield ("Launch a run", app.open_launch, "pick a profile and edit its parameters")
        for name in app.profile_names():
            yield ("Launch profile %s" % name, partial(app.open_launch, name),
                   "open the launch screen on it")
        yield ("Keys and help", app.action_help, "every binding and its id")
        for row in app.model.runs.rows[:MAX_RUNS]:
            yield ("Open run %s" % row.name, partial(app.open_run, row.path),
                   "%s  %s" % (row.status_text, row.profile))
        yield ("Quit Pitwall", app.action_quit, "runs keep running")

    async def discover(self) -> Hits:
        for name, cb, help_text in self.commands():
            yield DiscoveryHit(name, cb, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, cb, help_text in self.commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), cb, help=help_text)
