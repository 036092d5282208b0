"""What a backend can do, as its runner declares it (``python -m runners.<name> describe``).

The control center asks once, at launch, and keeps the answer in ``run.json``
(``capabilities``); the TUI and CLI read it to offer only what works for a run (a "record"
key for a backend that cannot record is not offered, or says why)::

    {"format": "pitwall.backend/1", "backend": "mujoco", "description": "...",
     "verbs": ["train", "play", "record", "eval"], "displays": ["preview", "window"],
     "checkpoint_format": "torch", "why_not": {"window": "..."}}

A profile whose viewer is a program of the user's own (``play.argv``) has no runner to ask:
its capabilities are derived from the profile (:func:`foreign_capabilities`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Union

from .errors import ProtocolError
from .fields import field as get

CAPABILITIES_FORMAT = "pitwall.backend/1"
DISPLAY_PREVIEW = "preview"   # headless frames (preview/<id>.png)
DISPLAY_WINDOW = "window"     # a live window on an X display / Wayland socket
DISPLAY_KINDS = (DISPLAY_PREVIEW, DISPLAY_WINDOW)


@dataclass
class Capabilities:
    backend: str
    verbs: List[str] = field(default_factory=list)
    displays: List[str] = field(default_factory=list)
    checkpoint_format: str = "torch"
    description: str = ""
    why_not: Dict[str, str] = field(default_factory=dict)   # a missing capability -> why
    format: str = CAPABILITIES_FORMAT

    def can(self, what: str) -> bool:
        """``train``, ``play``, ``record`` (or any verb), ``preview`` or ``window``."""
        if what in DISPLAY_KINDS:
            return what in self.displays
        return what in self.verbs

    def reason(self, what: str) -> str:
        """Why ``what`` is not offered, in words a user can act on."""
        if self.can(what):
            return ""
        return self.why_not.get(what) or "the %s backend does not support %s" % (
            self.backend, what)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any, path: Union[str, Path], where: str = "capabilities"
                  ) -> "Capabilities":
        if not isinstance(d, dict):
            raise ProtocolError(path, where, "expected an object")
        fmt = get(d, "format", str, path, default=CAPABILITIES_FORMAT)
        if not fmt.startswith("pitwall.backend/"):
            raise ProtocolError(path, where + ".format", "not a backend description (%r)" % fmt)
        verbs = get(d, "verbs", list, path, default=[])
        displays = get(d, "displays", list, path, default=[])
        why = get(d, "why_not", dict, path, default={})
        return cls(backend=get(d, "backend", str, path),
                   verbs=[str(v) for v in verbs],
                   displays=[str(v) for v in displays if v in DISPLAY_KINDS],
                   checkpoint_format=get(d, "checkpoint_format", str, path, default="torch"),
                   description=get(d, "description", str, path, default=""),
                   why_not={str(k): str(v) for k, v in why.items()}, format=fmt)


def foreign_capabilities(backend: str, has_play: bool, has_record: bool = False
                         ) -> Capabilities:
    """A profile that runs the user's own programs: it trains, it may have a viewer (its own
    program: Pitwall cannot render it into preview frames or a video)."""
    why = {"record": "the viewer is the profile's own program; Pitwall can record videos "
                     "only with a Pitwall runner (see docs/profiles.md, play.functions)"}
    if not has_play:
        why["play"] = "the profile has no play command (field 'play')"
    verbs = ["train"] + (["play"] if has_play else []) + (["record"] if has_record else [])
    return Capabilities(backend=backend, verbs=verbs,
                        displays=[DISPLAY_WINDOW] if has_play else [],
                        checkpoint_format="file", why_not=why)
