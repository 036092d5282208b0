"""The runner toolkit: what every backend stands on (docs/backends.md).

- :class:`Backend` (``backend.py``): a backend's one declaration; its ``main`` is the runner's
  command line (``runner_main.py``), built from ``runners.protocol.runner_args``.
- :class:`Playback` + :class:`Player` (``player.py``): the follow -> load -> swap -> ack loop;
  :class:`EpisodeRecorder` (``recorder.py``): the ``record`` verb.
- Displays (``displays.py``): preview frames, a :class:`Window` plugin, or nothing.
- :class:`CheckpointFollower` (``follower.py``), :class:`ParamsReader` (``params.py``),
  :class:`StopFlag` (``stop_flag.py``), bring-your-own functions (``byo.py``).

Python 3.8 syntax, no Textual, never imports ``tui`` or a backend.
"""
from .backend import Backend, PlayContext, PlaySettings, RunContext, Verb
from .displays import Display, DisplayClosed, Window
from .follower import CheckpointFollower, Loaded
from .params import MISSING, ParamsReader
from .player import Playback, Player, PlayOptions
from .recorder import EpisodeRecorder, RecordOptions
from .stop_flag import StopFlag

__all__ = ["Backend", "CheckpointFollower", "Display", "DisplayClosed", "EpisodeRecorder",
           "Loaded", "MISSING", "ParamsReader", "PlayContext", "PlayOptions", "PlaySettings",
           "Playback", "Player", "RecordOptions", "RunContext", "StopFlag", "Verb", "Window"]
