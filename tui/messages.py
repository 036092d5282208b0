"""The messages the control center's parts exchange (Textual, no widgets).

*Requests* are posted by panes, screens and the command palette and bubble up to the app,
which asks for confirmation where needed and runs the action (:mod:`tui.actions`) in a worker.
*Results* are what an action returns: typed messages posted to the screen that asked; a
screen handles those it cares about (the run view shows a new checkpoint choice at once) and
every result reaches the app, which shows its text and refreshes the model.

Nothing here imports the app or a screen, so the layers stay one-way:
messages ← widgets ← panes ← screens ← commands ← app.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.message import Message


# ====================================================================== requests

class StopRequested(Message):
    """Stop (SIGINT, SIGTERM, SIGKILL) or kill a run, or some of its roles; asks first."""

    def __init__(self, path: Path, roles: list[str] | None = None, kill: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        self.roles = roles
        self.kill = kill


class RestartRequested(Message):
    def __init__(self, path: Path, roles: list[str] | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.roles = roles


class DeleteRequested(Message):
    """Delete a run directory; refused while ``live`` (its roles or viewers run)."""

    def __init__(self, path: Path, live: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        self.live = live


class ViewerRequested(Message):
    """Start a viewer on ``display`` (``none``: headless); ``display=None``: let the user pick
    among the displays found and probed."""

    def __init__(self, path: Path, display: str | None = None, remember: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        self.display = display
        self.remember = remember


class RecordRequested(Message):
    """Record ``episodes`` of ``checkpoint`` (None: the newest); ``episodes=None``: ask."""

    def __init__(self, path: Path, checkpoint: str | None, episodes: int | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.checkpoint = checkpoint
        self.episodes = episodes


class CheckpointRequested(Message):
    """Ask the viewers to show ``ref`` (manual) or the newest checkpoint (auto)."""

    def __init__(self, path: Path, mode: str, ref: str | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.mode = mode
        self.ref = ref


class OpenVideoRequested(Message):
    """Open a video with the desktop's player (on a display that works)."""

    def __init__(self, path: Path, video: Any) -> None:
        super().__init__()
        self.path = Path(path)
        self.video = video


class OpenRunRequested(Message):
    def __init__(self, path: Path, tab: str = "metrics") -> None:
        super().__init__()
        self.path = Path(path)
        self.tab = tab


class CloseRunRequested(Message):
    """Back from the run view to the runs list."""


class LaunchRequested(Message):
    def __init__(self, profile: str | None = None) -> None:
        super().__init__()
        self.profile = profile


class CompareRequested(Message):
    """Compare these runs; ``colours``: each run's colour index (as marked in the list)."""

    def __init__(self, paths: list[Path], colours: dict[str, int]) -> None:
        super().__init__()
        self.paths = [Path(p) for p in paths]
        self.colours = dict(colours)


class SystemRequested(Message):
    """The machine: CPU, RAM, disk, GPUs, and each run's and role's share."""


class HelpRequested(Message):
    """Every binding with its keys and id."""


class ShowLogRequested(Message):
    """The run view's Logs tab, on ``role``'s log (handled by the run view)."""

    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = role


# ====================================================================== results

class ActionResult(Message):
    """What an action did; ``text`` is what the user is told."""

    severity = "information"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.process: Any = None      # a detached starter to reap (subprocess.Popen)

    @property
    def text(self) -> str:
        raise NotImplementedError


class Stopping(ActionResult):
    def __init__(self, path: Path, roles: list[str] | None, kill: bool) -> None:
        super().__init__(path)
        self.roles = roles
        self.kill = kill

    @property
    def text(self) -> str:
        return "%s %s%s" % ("killing" if self.kill else "stopping", self.path.name,
                            (" " + ",".join(self.roles)) if self.roles else "")


class Restarting(ActionResult):
    def __init__(self, path: Path, roles: list[str] | None) -> None:
        super().__init__(path)
        self.roles = roles

    @property
    def text(self) -> str:
        return "restarting %s" % self.path.name


class Deleted(ActionResult):
    @property
    def text(self) -> str:
        return "deleted %s" % self.path.name


class ViewerStarting(ActionResult):
    def __init__(self, path: Path, viewer_id: str, display: str) -> None:
        super().__init__(path)
        self.viewer_id = viewer_id
        self.display = display

    @property
    def text(self) -> str:
        where = "headless: tab 5 shows its frames" if self.display == "none" \
            else "on " + self.display
        return "starting %s for %s (%s)" % (self.viewer_id, self.path.name, where)


class RecordingStarted(ActionResult):
    def __init__(self, path: Path, role: str, checkpoint: str | None, episodes: int) -> None:
        super().__init__(path)
        self.role = role
        self.checkpoint = checkpoint
        self.episodes = episodes

    @property
    def text(self) -> str:
        what = self.checkpoint or "the newest checkpoint"
        return "%s records %d episode%s of %s; the video shows on tab 5 when done" % (
            self.role, self.episodes, "" if self.episodes == 1 else "s", what)


class VideoOpening(ActionResult):
    def __init__(self, path: Path, video: str, display: str) -> None:
        super().__init__(path)
        self.video = video
        self.display = display

    @property
    def text(self) -> str:
        return "opening %s on %s (the player's messages: tab 2, pitwall)" % (self.video,
                                                                           self.display)


class VideoNotOpened(ActionResult):
    severity = "warning"

    def __init__(self, path: Path, video: str, reason: str) -> None:
        super().__init__(path)
        self.video = video
        self.reason = reason

    @property
    def text(self) -> str:
        return "cannot open %s with a player: %s" % (self.video, self.reason)


class CheckpointChosen(ActionResult):
    def __init__(self, path: Path, mode: str, checkpoint: str, seq: int) -> None:
        super().__init__(path)
        self.mode = mode
        self.checkpoint = checkpoint
        self.seq = seq

    @property
    def text(self) -> str:
        what = "the newest checkpoint" if self.mode == "auto" else self.checkpoint
        return "viewers asked to show %s (seq %d)" % (what, self.seq)
