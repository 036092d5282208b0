"""The Pitwall control center: a Textual app over ``tui.core``.

The app owns one :class:`~tui.core.run_view_model.RunsModel` (a data thread that reads the
runs root) and one render timer: a few times a second the visible screen reads the model's
latest snapshots and redraws what changed. Actions (launch, stop, restart, delete, viewers,
checkpoint choice) run in worker threads that call the core and report back with messages;
stops and restarts are detached processes, so quitting never cuts one short, and quitting
never stops a run.

The terminal guard exits cleanly on SIGHUP or when the terminal goes away without one (stdin
at EOF, the tty hung up, the parent gone): stock Textual 8.2 spins at 100 % CPU there.
"""
from __future__ import annotations

import os
import select
import signal
import sys
import threading
import time
from functools import partial
from pathlib import Path
from typing import Callable

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.worker import Worker, WorkerState

from tui.core.run_view_model import RunsModel

from . import actions
from .commands import PitwallCommands
from .keymap import KeymapError, keymap_path, load_keymap
from .messages import (ActionResult, CheckpointRequested, CloseRunRequested,
                       CompareRequested, DeleteRequested, HelpRequested, LaunchRequested,
                       OpenRunRequested, OpenVideoRequested, RecordRequested,
                       RestartRequested, StopRequested, SystemRequested, ViewerRequested)
from .screens.runs import RunsScreen

# The launch screen, the run view, help and the control functions are imported when first
# used: the runs screen must be up within a second of typing ``pitwall``.

TICK_S = 1 / 3           # the render timer (3 Hz)
GUARD_S = 0.25           # how often the terminal guard looks
HANGUP_DEADLINE_S = 0.9  # after a hangup, exit at the latest this much later
FIRST_FRAME_LATEST_S = 2.0   # start what waits for the first frame by then in any case


class ModelChanged(Message):
    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__()


class DisplaysProbed(Message):
    """Displays found and probed (off the UI thread) for a viewer of ``path``."""

    def __init__(self, path: Path, results: list, remembered: str | None) -> None:
        self.path = path
        self.results = results
        self.remembered = remembered
        super().__init__()


NOTIFY_GROUPS = ("control", "displays", "media")   # worker groups whose failures are shown


# ====================================================================== terminal guard

class TerminalGuard:
    """Is the terminal still there? Never reads stdin (Textual's input thread does)."""

    def __init__(self, fd_in: int = 0, fds_out: tuple[int, ...] = (1, 2)) -> None:
        self.fd_in = fd_in
        self.ppid = os.getppid()
        self.tty_in = os.isatty(fd_in)
        self.ttys_out = [fd for fd in fds_out if os.isatty(fd)]  # Textual draws on stderr

    def gone(self) -> str | None:
        if os.getppid() != self.ppid:
            return "the parent process is gone"
        try:
            p = select.poll()
            p.register(self.fd_in, select.POLLIN | select.POLLPRI)
            for _fd, mask in p.poll(0):
                if mask & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                    return "stdin hung up"
        except (OSError, ValueError):
            return "stdin is closed"
        if self.tty_in and not os.isatty(self.fd_in):
            return "stdin is no longer a terminal"
        for fd in self.ttys_out:
            if not os.isatty(fd):
                return "fd %d is no longer a terminal" % fd
        return None


def _silence_terminal() -> None:
    """Point stdout/stderr at /dev/null: the restore sequences Textual writes on exit must not
    block or fail on a terminal that is gone."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    except OSError:
        pass


# ====================================================================== the app

class PitwallApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "Pitwall"
    COMMANDS = App.COMMANDS | {PitwallCommands}
    COMMAND_PALETTE_BINDING = "ctrl+p"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        Binding("ctrl+p", "command_palette", "Commands", show=False, priority=True,
                id="app.command_palette"),
        Binding("ctrl+r", "refresh", "Refresh", show=False, id="app.refresh"),
    ]

    def __init__(self, root: Path, *, keymap: dict[str, str] | None = None,
                 clock: Callable[[], float] = time.time, guard_terminal: bool = False,
                 tick: float = TICK_S, config_dirs: list[Path] | None = None,
                 use_watchdog: bool = True, cursor_blink: bool = True,
                 model: RunsModel | None = None) -> None:
        super().__init__()
        self.root = Path(root).absolute()
        self.clock = clock
        self.tick = tick
        self.config_dirs = config_dirs
        self.cursor_blink = cursor_blink
        self.guard_terminal = guard_terminal
        self.hangup_reason: str | None = None
        self._guard: TerminalGuard | None = None
        self._spawned: list = []
        self._profile_names: list[str] = []
        self._first_frame = False
        self.model = model or RunsModel(self.root, on_change=self._model_changed, clock=clock,
                                        use_watchdog=use_watchdog)
        if model is not None:
            model.on_change = self._model_changed
        if keymap:
            self.set_keymap(keymap)

    # ------------------------------------------------------------------ lifecycle
    def get_default_screen(self) -> RunsScreen:
        """The runs screen is the app's first screen (no empty default screen drawn first)."""
        return RunsScreen()

    def on_mount(self) -> None:
        self.model.start(wait_for_ui=True)
        self.set_interval(self.tick, self._tick)
        self.set_timer(FIRST_FRAME_LATEST_S, self._first_frame_shown)
        if self.guard_terminal:
            self._guard = TerminalGuard()
            self.set_interval(GUARD_S, self._check_terminal)
            try:
                import asyncio

                asyncio.get_running_loop().add_signal_handler(
                    signal.SIGHUP, self.terminal_gone, "SIGHUP")
            except (NotImplementedError, RuntimeError, ValueError):
                signal.signal(signal.SIGHUP, lambda *_: self.call_later(
                    self.terminal_gone, "SIGHUP"))

    def on_unmount(self) -> None:
        self.model.stop()

    def _model_changed(self, what: str) -> None:
        """From the model's threads: only what cannot wait for the next tick is posted."""
        if what in ("checkpoints", "events", "runs"):   # "runs": the first snapshots only
            self.post_message(ModelChanged(what))

    @on(ModelChanged)
    def _on_model_changed(self, msg: ModelChanged) -> None:
        if msg.what == "checkpoints" and hasattr(self.screen, "refresh_checkpoints"):
            self.screen.refresh_checkpoints()
        elif msg.what == "runs" and self.is_running:
            if isinstance(self.screen, RunsScreen):
                self.screen.refresh_from_model()  # the first frame with runs: now, not at a tick
            if not self._first_frame:
                self.call_after_refresh(self._first_frame_shown)
        self._drain_events()

    def _first_frame_shown(self) -> None:
        """The runs are on screen: what waited for the first frame may start (the rest of the
        root is read, the profiles are found)."""
        if self._first_frame:
            return
        self._first_frame = True
        self.model.ui_shown()
        self._find_profiles()

    def _tick(self) -> None:
        if not self.is_running:      # shutting down: the screens are being taken apart
            return
        self._drain_events()
        for p in [p for p in self._spawned if p.poll() is not None]:
            self._spawned.remove(p)   # reaped (appends come from worker threads)
        screen = self.screen
        refresh = getattr(screen, "refresh_from_model", None)
        if refresh is not None:
            with self.batch_update():
                refresh()

    def _drain_events(self) -> None:
        for ev in self.model.drain_events():
            self.notify(ev.text, severity=ev.severity,  # type: ignore[arg-type]
                        timeout=8 if ev.severity == "error" else 4)

    # ------------------------------------------------------------------ terminal guard
    def _check_terminal(self) -> None:
        if self._guard is not None and self.hangup_reason is None:
            reason = self._guard.gone()
            if reason is not None:
                self.terminal_gone(reason)

    def terminal_gone(self, reason: str) -> None:
        """Exit now, quietly; the runs go on (they live in their own sessions)."""
        if self.hangup_reason is not None:
            return
        self.hangup_reason = reason
        _silence_terminal()
        t = threading.Timer(HANGUP_DEADLINE_S, os._exit, (0,))
        t.daemon = True
        t.start()
        self.model.stop()
        self.exit(0)

    # ------------------------------------------------------------------ navigation
    def open_run(self, path: Path, tab: str = "metrics") -> None:
        from .screens.run_view import open_run_screen

        open_run_screen(self, path, tab)

    def close_run(self) -> None:
        from .screens.run_view import RunScreen

        if isinstance(self.screen, RunScreen):
            name = self.screen.path.name
            self.pop_screen()
            self.model.focus(None)
            if isinstance(self.screen, RunsScreen):
                self.screen.select_run(name)

    def open_launch(self, profile: str | None = None) -> None:
        from .screens.launch import LaunchScreen

        self.push_screen(LaunchScreen(profile))

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(binding_catalog(self._keymap)))

    def action_refresh(self) -> None:
        self.model.poke()
        self.model.watcher.wake()

    def profile_names(self) -> list[str]:
        return list(self._profile_names)

    @work(thread=True, exit_on_error=False, group="profiles")
    def _find_profiles(self) -> None:
        from tui.core.profiles import discover_profiles

        self._profile_names = sorted(discover_profiles(self.config_dirs))

    # ------------------------------------------------------------------ requests
    @on(OpenRunRequested)
    def _open_run_requested(self, msg: OpenRunRequested) -> None:
        self.open_run(msg.path, msg.tab)

    @on(CloseRunRequested)
    def _close_run_requested(self) -> None:
        self.close_run()

    @on(LaunchRequested)
    def _launch_requested(self, msg: LaunchRequested) -> None:
        self.open_launch(msg.profile)

    @on(CompareRequested)
    def _compare_requested(self, msg: CompareRequested) -> None:
        from .screens.compare import CompareScreen

        self.push_screen(CompareScreen(msg.paths, msg.colours))

    @on(SystemRequested)
    def _system_requested(self) -> None:
        from .screens.system import SystemScreen

        if not isinstance(self.screen, SystemScreen):
            self.push_screen(SystemScreen())

    @on(HelpRequested)
    def _help_requested(self) -> None:
        self.action_help()

    def _confirm(self, question: str, detail: str, yes: str, then: Callable[[], None],
                 other: tuple[str, Callable[[], None]] | None = None) -> None:
        from .screens.confirm import ConfirmScreen

        def answered(ok: bool | str | None) -> None:
            if ok == "other" and other is not None:
                other[1]()
            elif ok is True:
                then()
        self.push_screen(ConfirmScreen(question, detail, yes,
                                       other[0] if other is not None else None), answered)

    @on(StopRequested)
    def _stop_requested(self, msg: StopRequested) -> None:
        path, roles, kill = msg.path, msg.roles, msg.kill
        what = ("roles %s of " % ", ".join(roles)) if roles else ""
        verb = "Kill" if kill else "Stop"
        detail = ("SIGKILL to the process group at once: the trainer cannot save."
                  if kill else "SIGINT (the trainer saves), then SIGTERM, then SIGKILL.")
        row = self.model.runs.row(path.name)
        viewers = row.viewers_alive if row is not None and roles is None else 0
        other = None
        if viewers:   # a finished run's viewers would otherwise run on (headless: until idle)
            detail += "  %d viewer%s keep%s running unless stopped too." % (
                viewers, "" if viewers == 1 else "s", "s" if viewers == 1 else "")
            other = ("%s with its viewer%s" % (verb, "" if viewers == 1 else "s"),
                     self._act(partial(actions.stop_with_viewers, path, kill)))
        self._confirm("%s %s%s?" % (verb, what, path.name), detail, verb,
                      self._act(partial(actions.stop, path, roles, kill)), other)

    @on(RestartRequested)
    def _restart_requested(self, msg: RestartRequested) -> None:
        what = ("roles %s of " % ", ".join(msg.roles)) if msg.roles else ""
        self._confirm("Restart %s%s?" % (what, msg.path.name),
                      "Stops (SIGINT, SIGTERM, SIGKILL), then starts again.", "Restart",
                      self._act(partial(actions.restart, msg.path, msg.roles)))

    @on(DeleteRequested)
    def _delete_requested(self, msg: DeleteRequested) -> None:
        if msg.live:
            self.notify("%s is still running: stop it first" % msg.path.name,
                        severity="warning")
            return
        self._confirm("Delete %s?" % msg.path.name,
                      "Removes the run directory: logs, metrics and checkpoints.", "Delete",
                      self._act(partial(actions.delete, msg.path)))

    @on(ViewerRequested)
    def _viewer_requested(self, msg: ViewerRequested) -> None:
        if msg.display is None:      # find and probe the displays, let the user pick one
            from tui.core.viewers import window_unavailable

            why = window_unavailable(msg.path)   # a backend that opens no window: headless
            if why is not None:
                self.notify("%s: the viewer runs headless (tab 5 shows its frames)" % why)
                self.start_viewer(msg.path, "none")
                return
            self._probe_displays(msg.path)
        else:
            self.start_viewer(msg.path, msg.display, msg.remember)

    @on(RecordRequested)
    def _record_requested(self, msg: RecordRequested) -> None:
        from tui.core.videos import record_unavailable

        why = record_unavailable(msg.path)      # a backend that cannot record says why
        if why is not None:
            self.notify("Record video: %s" % why, severity="warning")
            return
        if msg.episodes:
            self._act(partial(actions.record, msg.path, msg.checkpoint, msg.episodes))()
            return
        from .screens.record import RecordScreen

        def answered(episodes: int | None) -> None:
            if episodes:
                self._act(partial(actions.record, msg.path, msg.checkpoint, episodes))()
        self.push_screen(RecordScreen(msg.path.name, msg.checkpoint or "the newest"), answered)

    @on(CheckpointRequested)
    def _checkpoint_requested(self, msg: CheckpointRequested) -> None:
        self.select_checkpoint(msg.path, msg.mode, msg.ref)

    @on(OpenVideoRequested)
    def _open_video_requested(self, msg: OpenVideoRequested) -> None:
        self._act(partial(actions.open_video, msg.path, msg.video), group="media")()

    def start_viewer(self, path: Path, display: str = "none", remember: bool = False) -> None:
        self._act(partial(actions.start_viewer, Path(path), display, remember))()

    def select_checkpoint(self, path: Path, mode: str, ref: str | None) -> None:
        self._act(partial(actions.select_checkpoint, Path(path), mode, ref))()

    # ------------------------------------------------------------------ running actions
    def _act(self, fn: Callable[[], ActionResult], group: str = "control"
             ) -> Callable[[], None]:
        """``fn`` in a worker thread; its result goes to the screen that asked (now)."""
        screen = self.screen

        def run() -> None:
            self.run_worker(partial(self._run_action, fn, screen), thread=True,
                            exit_on_error=False, group=group)
        return run

    def _run_action(self, fn: Callable[[], ActionResult], screen) -> None:
        result = fn()
        if result.process is not None:
            self._spawned.append(result.process)
        target = screen if screen is not None and screen.is_attached else self
        target.post_message(result)

    @work(thread=True, exclusive=True, exit_on_error=False, group="displays")
    def _probe_displays(self, path: Path) -> None:
        results, remembered = actions.probe_displays()
        self.post_message(DisplaysProbed(path, results, remembered))

    @on(DisplaysProbed)
    def _displays_probed(self, msg: DisplaysProbed) -> None:
        from .screens.display_picker import DisplayPickerScreen

        def chosen(display: str | None) -> None:
            if display is not None:   # None: cancelled
                self.start_viewer(msg.path, display, remember=display != "none")
        self.push_screen(DisplayPickerScreen(msg.results, remembered=msg.remembered), chosen)

    @on(ActionResult)
    def _action_done(self, msg: ActionResult) -> None:
        self.notify(msg.text, severity=msg.severity)  # type: ignore[arg-type]
        self.model.poke()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.group in NOTIFY_GROUPS:
            err = event.worker.error
            self.notify("%s" % err, title="failed", severity="error", timeout=10)
            self.model.poke()


# ====================================================================== keys

BINDING_OWNERS: list[tuple[str, str]] = [
    ("Everywhere", "tui.app:PitwallApp"),
    ("Runs", "tui.screens.runs:RunsScreen"),
    ("Runs list", "tui.widgets.run_table:RunTable"),
    ("Launch", "tui.screens.launch:LaunchScreen"),
    ("Compare", "tui.screens.compare:CompareScreen"),
    ("System", "tui.screens.system:SystemScreen"),
    ("Run view", "tui.screens.run_view:RunScreen"),
    ("Metrics tab", "tui.screens.panes.metrics:MetricsPane"),
    ("Logs tab", "tui.screens.panes.logs:LogsPane"),
    ("Checkpoints tab", "tui.screens.panes.checkpoints:CheckpointsPane"),
    ("Processes tab", "tui.screens.panes.processes:ProcessesPane"),
    ("Preview tab", "tui.screens.panes.playback:PlaybackPane"),
    ("Videos list (preview tab)", "tui.widgets.video_list:VideoList"),
    ("Tables (checkpoints, processes, videos)", "tui.widgets.keyed_table:KeyedTable"),
    ("Display picker", "tui.screens.display_picker:DisplayPickerScreen"),
    ("Record a video", "tui.screens.record:RecordScreen"),
    ("Confirm", "tui.screens.confirm:ConfirmScreen"),
    ("Help", "tui.screens.help:HelpScreen"),
]


def _owner_class(spec: str) -> type:
    import importlib

    mod, name = spec.split(":")
    return getattr(importlib.import_module(mod), name)


def key_display(keys: str) -> str:
    """``question_mark,f1`` -> ``?  f1``; ``ctrl+p`` -> ``^p``."""
    from textual.keys import format_key

    out = []
    for key in keys.split(","):
        *mods, name = key.strip().split("+")
        text = format_key(name)
        if "ctrl" in mods:
            mods.remove("ctrl")
            text = "^" + text
        out.append("+".join(mods + [text]))
    return "  ".join(out)


def binding_catalog(keymap: dict[str, str] | None = None) -> list[tuple[str, str, str, str]]:
    """(where, id, keys, description) of every binding with an id, keymap applied."""
    keymap = keymap or {}
    out = []
    for where, spec in BINDING_OWNERS:
        for b in _owner_class(spec).__dict__.get("BINDINGS", []):
            if isinstance(b, Binding) and b.id:
                keys = keymap.get(b.id, b.key)
                out.append((where, b.id, key_display(keys), b.description or b.action))
    return out


def known_binding_ids() -> dict[str, str]:
    return {bid: desc for _, bid, _, desc in binding_catalog()}


def run_app(root: Path) -> int:
    """``pitwall`` with no command: the TUI on ``root`` until the user quits."""
    path = keymap_path()
    try:
        keymap = load_keymap(path, known_binding_ids()) if path.exists() else {}
    except KeymapError as e:
        sys.stderr.write("pitwall: keymap: %s\n" % e)
        return 2
    from tui.core.terminal_graphics import tui_graphics

    from .widgets.picture import choose

    # kitty/sixel pictures: textual-image must ask the terminal before Textual owns stdin
    choose(tui_graphics().kind, tmux=bool(os.environ.get("TMUX")))
    app = PitwallApp(root, keymap=keymap, guard_terminal=True)
    rc = app.run()
    return int(rc or 0)
