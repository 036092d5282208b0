"""The launch screen: pick a profile, edit its parameters as ``key=value``, validate, launch.

Profiles come from ``configs/`` and the user's profile directories (``tui.core.profiles``).
Every edit is validated in a worker (the same resolution the launch does), and nothing starts
unless it validates. Optionally a viewer is started once the run's first checkpoint exists.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Checkbox, Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from tui.context import AppContext, context_of
from tui.core.launchers import launch_one
from tui.core.slurm.commands import SlurmError
from tui.core.overrides import OverrideError, overrides_from_text, params_text
from tui.core.profiles import ProfileError, discover_profiles, load_profile, resolve_profile
from tui.core.viewers import start_viewer_at_first_checkpoint
from tui.widgets.formatting import display_path
from tui.widgets.key_footer import KeyFooter

DEFAULT_PROFILE = "mujoco/inverted_pendulum"


class ProfilesFound(Message):
    def __init__(self, profiles: dict[str, Path], error: str | None) -> None:
        self.profiles = profiles
        self.error = error
        super().__init__()


class ProfileLoaded(Message):
    def __init__(self, name: str, path: Path, params: dict[str, Any] | None,
                 description: str, error: str | None) -> None:
        self.name = name
        self.path = path
        self.params = params
        self.description = description
        self.error = error
        super().__init__()


class Validated(Message):
    def __init__(self, name: str, text: str, overrides: list[str], error: str | None,
                 experiment: str = "") -> None:
        self.name = name
        self.text = text
        self.overrides = overrides
        self.error = error
        self.experiment = experiment
        super().__init__()


class Launched(Message):
    def __init__(self, run_dir: Path | None, error: str | None) -> None:
        self.run_dir = run_dir
        self.error = error
        super().__init__()


class LaunchScreen(Screen):
    BINDINGS = [
        Binding("ctrl+l", "launch", "Launch", id="launch.launch", priority=True),
        Binding("escape", "back", "Back", id="launch.back"),
        Binding("ctrl+r", "reset", "Reset params", id="launch.reset"),
        Binding("ctrl+o", "toggle_viewer", "Viewer at 1st ckpt", id="launch.viewer",
                priority=True),
    ]

    def __init__(self, profile: str | None = None) -> None:
        super().__init__(id="launch-screen")
        self.initial = profile
        self.profiles: dict[str, Path] = {}
        self.current: str | None = None
        self.params: dict[str, Any] | None = None
        self.valid: Validated | None = None
        self.launching = False

    @property
    def papp(self) -> AppContext:
        return context_of(self.app)

    def compose(self) -> ComposeResult:
        yield Static("[b]Launch a run[/b]  into %s" % display_path(self.papp.root),
                     classes="title-bar")
        with Horizontal(id="launch-body"):
            yield OptionList(id="launch-profiles")
            with Vertical(id="launch-form"):
                yield Static("", id="launch-desc")
                yield TextArea("", id="launch-params", soft_wrap=False,
                               show_line_numbers=False, tab_behavior="focus")
                yield Static("", id="launch-valid")
                with Horizontal(id="launch-viewer-row"):
                    yield Checkbox("viewer at 1st checkpoint on", id="launch-viewer",
                                   value=False)
                    yield Input("none", id="launch-display")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#launch-profiles", OptionList).focus()
        self.query_one("#launch-params", TextArea).cursor_blink = self.papp.cursor_blink
        self.query_one("#launch-display", Input).cursor_blink = self.papp.cursor_blink
        self._find_profiles()

    # ------------------------------------------------------------------ profiles
    @work(thread=True, exclusive=True, exit_on_error=False, group="launch-profiles")
    def _find_profiles(self) -> None:
        try:
            found = discover_profiles(self.papp.config_dirs)
            self.post_message(ProfilesFound(found, None))
        except Exception as e:
            self.post_message(ProfilesFound({}, str(e)))

    @on(ProfilesFound)
    def _profiles_found(self, msg: ProfilesFound) -> None:
        self.profiles = msg.profiles
        ol = self.query_one("#launch-profiles", OptionList)
        ol.clear_options()
        for name, path in msg.profiles.items():
            ol.add_option(Option(name, id=name))
        if msg.error or not msg.profiles:
            self._say_desc("[red]%s[/red]" % _esc(msg.error or "no profiles found in %s"
                                                    % ", ".join(map(str, self._dirs()))))
            return
        want = self.initial if self.initial in msg.profiles else (
            DEFAULT_PROFILE if DEFAULT_PROFILE in msg.profiles else next(iter(msg.profiles)))
        ol.highlighted = list(msg.profiles).index(want)

    def _dirs(self) -> list[Path]:
        from tui.core.profiles import profile_search_dirs

        return self.papp.config_dirs or profile_search_dirs()

    @on(OptionList.OptionHighlighted, "#launch-profiles")
    def _profile_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        name = event.option.id
        if name and name != self.current:
            self.current = name
            self.valid = None
            self._load_profile(name, self.profiles[name])

    @on(OptionList.OptionSelected, "#launch-profiles")
    def _profile_selected(self, event: OptionList.OptionSelected) -> None:
        self.query_one("#launch-params", TextArea).focus()

    @work(thread=True, exclusive=True, exit_on_error=False, group="launch-load")
    def _load_profile(self, name: str, path: Path) -> None:
        try:
            prof = load_profile(path)
            self.post_message(ProfileLoaded(name, path, dict(prof.params), prof.description,
                                            None))
        except ProfileError as e:
            self.post_message(ProfileLoaded(name, path, None, "", str(e)))

    @on(ProfileLoaded)
    def _profile_loaded(self, msg: ProfileLoaded) -> None:
        if msg.name != self.current:
            return
        self.params = msg.params
        area = self.query_one("#launch-params", TextArea)
        if msg.error:
            self._say_desc("[red]%s[/red]" % _esc(msg.error))
            area.load_text("")
            self._say_valid("[red]this profile cannot be launched[/red]")
            return
        self._say_desc("[b]%s[/b]  %s\n[dim]%s[/dim]" % (
            _esc(msg.name), _esc(msg.description), _esc(display_path(msg.path))))
        area.load_text(params_text(msg.params or {}))
        self._validate_soon()

    # ------------------------------------------------------------------ validation
    @on(TextArea.Changed, "#launch-params")
    def _params_changed(self, event: TextArea.Changed) -> None:
        self.valid = None
        self._validate_soon()

    def _validate_soon(self) -> None:
        if self.current is None or self.params is None:
            return
        self._say_valid("[dim]checking ...[/dim]")
        self._validate(self.current, self.query_one("#launch-params", TextArea).text,
                       dict(self.params))

    @work(thread=True, exclusive=True, exit_on_error=False, group="launch-validate")
    def _validate(self, name: str, text: str, params: dict[str, Any]) -> None:
        import time

        time.sleep(0.15)  # typing: validate once the keys stop
        from textual.worker import get_current_worker

        if get_current_worker().is_cancelled:
            return
        self.post_message(validate(name, text, params, self.papp.config_dirs))

    @on(Validated)
    def _validated(self, msg: Validated) -> None:
        area_text = self.query_one("#launch-params", TextArea).text
        if msg.name != self.current or msg.text != area_text:
            return
        self.valid = msg
        if msg.error:
            self._say_valid("[red]✗ %s[/red]" % _esc(msg.error))
        elif msg.overrides:
            self._say_valid("[green]✓ valid[/green]  overrides: [b]%s[/b]   ctrl+l launches"
                            % _esc(" ".join(msg.overrides)))
        else:
            self._say_valid("[green]✓ valid[/green]  profile defaults   ctrl+l launches")

    # ------------------------------------------------------------------ launch
    def action_launch(self) -> None:
        if self.launching:
            return
        if self.current is None or self.params is None:
            self.notify("pick a profile first", severity="warning")
            return
        text = self.query_one("#launch-params", TextArea).text
        msg = validate(self.current, text, dict(self.params), self.papp.config_dirs)
        if msg.error:
            self._say_valid("[red]✗ %s[/red]" % _esc(msg.error))
            self.notify("not launched: " + msg.error, severity="error", timeout=8)
            return
        self.launching = True
        self._say_valid("[b]launching %s %s ...[/b]" % (_esc(self.current),
                                                         _esc(" ".join(msg.overrides))))
        viewer = self.query_one("#launch-viewer", Checkbox).value
        display = self.query_one("#launch-display", Input).value.strip() or "none"
        self._launch(self.current, msg.overrides, viewer, display)

    @work(thread=True, exclusive=True, exit_on_error=False, group="launch-run")
    def _launch(self, name: str, overrides: list[str], viewer: bool, display: str) -> None:
        try:
            rp = resolve_profile(name, overrides, self.papp.config_dirs)
            res = launch_one(rp, self.papp.root, wait=0)   # where the profile's launcher says
        except (ProfileError, OverrideError, OSError, ValueError, SlurmError) as e:
            self.post_message(Launched(None, str(e)))
            return
        if viewer:
            start_viewer_at_first_checkpoint(res.run_dir, display)
        self.post_message(Launched(res.run_dir, None))

    @on(Launched)
    def _launched(self, msg: Launched) -> None:
        self.launching = False
        if msg.error or msg.run_dir is None:
            self._say_valid("[red]✗ not launched: %s[/red]" % _esc(msg.error or "?"))
            self.notify("launch failed: %s" % msg.error, severity="error", timeout=8)
            return
        self.notify("launched %s" % msg.run_dir.name)
        self.papp.model.poke()
        self.dismiss_to_run(msg.run_dir)

    def dismiss_to_run(self, run_dir: Path) -> None:
        from .run_view import open_run_screen

        self.app.pop_screen()
        open_run_screen(self.app, run_dir)    # at once: keys typed next go to the run view

    # ------------------------------------------------------------------ other keys
    def action_back(self) -> None:
        self.app.pop_screen()

    def action_reset(self) -> None:
        if self.params is not None:
            self.query_one("#launch-params", TextArea).load_text(params_text(self.params))

    def action_toggle_viewer(self) -> None:
        cb = self.query_one("#launch-viewer", Checkbox)
        cb.value = not cb.value

    def _say_desc(self, text: str) -> None:
        self.query_one("#launch-desc", Static).update(text)

    def _say_valid(self, text: str) -> None:
        self.query_one("#launch-valid", Static).update(text)


def validate(name: str, text: str, params: dict[str, Any],
             dirs: list[Path] | None = None) -> Validated:
    """What a launch would resolve: overrides from the edited text, then the profile."""
    try:
        overrides = overrides_from_text(text, params)
        rp = resolve_profile(name, overrides, dirs)
        return Validated(name, text, overrides, None, rp.experiment)
    except OverrideError as e:
        return Validated(name, text, [], str(e))
    except ProfileError as e:
        return Validated(name, text, [], e.message if e.path else str(e))


def _esc(text: str) -> str:
    return text.replace("[", r"\[")
