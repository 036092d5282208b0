"""A backend declares itself once: :class:`Backend`. The toolkit's runner main builds the command
line from it (``train``, ``play``, ``record``, its own verbs, and ``describe`` / ``check`` for
the control center) and tells the control center what it can do (:meth:`Backend.capabilities`).

A backend's ``__main__.py``::

    BACKEND = Backend(name="mujoco", description="...", config=parse_params,
                      train=train, playback=MujocoPlayback, checkpoint_format="torch")
    if __name__ == "__main__":
        sys.exit(BACKEND.main())

See ``docs/backends.md``.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from runners.protocol.capabilities import DISPLAY_PREVIEW, DISPLAY_WINDOW, Capabilities

from .player import Playback
from .stop_flag import StopFlag

Say = Callable[[str], None]


@dataclass
class RunContext:
    """What ``train`` and a backend's own verbs receive."""
    run_dir: Path
    role: str
    config: Any                     # what the backend's ``config`` returned
    args: argparse.Namespace
    stop: StopFlag
    say: Say
    resume: Optional[Path] = None


@dataclass
class PlayContext:
    """What a backend's playback factory receives (for ``play`` and ``record``)."""
    run_dir: Path
    config: Any
    mode: str                       # play | record
    display: str = "none"
    frame_size: Optional[Tuple[int, int]] = None   # asked for on the command line (WxH)
    say: Say = print


@dataclass
class PlaySettings:
    """A backend's defaults for its viewers and videos (from its config)."""
    realtime: bool = True
    seed: int = 0
    preview_hz: float = 4.0
    video_fps: float = 0.0          # 0 = the env's rate
    max_video_steps: int = 1000
    settle_steps: int = 0


@dataclass
class Verb:
    """A backend's own verb (``eval``, ``demos`` ...)."""
    help: str
    run: Callable[[RunContext], int]
    add_arguments: Optional[Callable[[argparse.ArgumentParser], None]] = None


@dataclass
class Backend:
    name: str
    description: str
    config: Callable[[Dict[str, Any], Path], Any]    # (params, source) -> typed config
    train: Optional[Callable[[RunContext], int]] = None
    playback: Optional[Callable[[PlayContext], Playback]] = None
    settings: Callable[[Any], PlaySettings] = field(default=lambda cfg: PlaySettings())
    checkpoint_format: str = "torch"
    window: bool = True             # the playback has open_window()
    preview: bool = True            # the playback has frame(): preview frames and videos
    verbs: Dict[str, Verb] = field(default_factory=dict)
    why_not: Dict[str, str] = field(default_factory=dict)
    # refine what a run with this config can do (e.g. no frames on Isaac Gym)
    capabilities_for: Optional[Callable[[Any, Capabilities], Capabilities]] = None
    prepare: Optional[Callable[[str, argparse.Namespace], None]] = None  # before slow imports
    interrupt_on_repeat: bool = False   # a second stop signal interrupts at once
    resume_help: str = "restore weights, optimizer and counters, then continue"
    display_help: str = ("none: headless, preview frames in preview/<viewer-id>.png; an X "
                         "display (:0, localhost:10.0) or Wayland socket (wayland-0): a window")

    def capabilities(self, config: Any = None) -> Capabilities:
        """What the runner can do; with a config, what a run with that config can do."""
        caps = self._static_capabilities()
        if config is not None and self.capabilities_for is not None:
            caps = self.capabilities_for(config, caps)
        return caps

    def _static_capabilities(self) -> Capabilities:
        verbs = []  # type: List[str]
        why = dict(self.why_not)
        if self.train is not None:
            verbs.append("train")
        if self.playback is not None:
            verbs.append("play")
            if self.preview:
                verbs.append("record")
            else:
                why.setdefault("record", "the %s backend renders no offscreen frames, so it "
                                         "cannot record videos" % self.name)
        else:
            why.setdefault("play", "the %s backend has no player" % self.name)
        verbs += list(self.verbs)
        displays = []  # type: List[str]
        if self.playback is not None and self.preview:
            displays.append(DISPLAY_PREVIEW)
        elif self.playback is not None:
            why.setdefault(DISPLAY_PREVIEW, "the %s backend renders no offscreen frames"
                           % self.name)
        if self.playback is not None and self.window:
            displays.append(DISPLAY_WINDOW)
        elif self.playback is not None:
            why.setdefault(DISPLAY_WINDOW, "the %s backend opens no window" % self.name)
        return Capabilities(backend=self.name, verbs=verbs, displays=displays,
                            checkpoint_format=self.checkpoint_format,
                            description=self.description, why_not=why)

    def main(self, argv: Optional[Sequence[str]] = None) -> int:
        from .runner_main import run_backend

        return run_backend(self, list(argv) if argv is not None else None)
