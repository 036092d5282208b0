"""Profile fields for running trainers and viewers that are not Pitwall's (``runners/adapters``).

``output_discovery`` — a trainer that picks its own output directory::

    output_discovery: {role: train, regex: "Training will save to: (?P<dir>\\S+)"}
    output_discovery: {role: train, glob: "runs/*__*"}   # the newest new matching dir

``regex``: the newest line of ``logs/<role>.log`` that matches names it (group ``dir``).
``glob``: the newest directory matching the pattern (relative to the role's working directory)
that appeared after the role started — for trainers that never print where they write.

``relay`` — how auto mode reaches a viewer that is the user's own program (it reads only
``checkpoint_path`` and ``last_update`` of the state file and reloads when ``last_update``
changes)::

    relay: {stable_for: 0.5, max_wait: 3.0, kick_after: [5, 15, 30, 60], grace: 5.0}
    relay: {enabled: false}     # a viewer that follows the files itself needs none

The control center validates these once (the profile model embeds the dataclasses) and keeps
them in ``run.json``; the relay process reads them back.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Dict, List, Optional

DEFAULT_DISCOVERY_REGEX = r"Training will save to: (?P<dir>\S+)"


@dataclass
class OutputDiscoverySpec:
    role: str = "train"
    regex: Optional[str] = None
    glob: Optional[str] = None

    __pydantic_config__: ClassVar[Dict[str, Any]] = {"extra": "forbid"}

    def __post_init__(self) -> None:
        if self.regex is None and self.glob is None:
            self.regex = DEFAULT_DISCOVERY_REGEX
        if self.regex is not None and self.glob is not None:
            raise ValueError("regex: give either regex (a log line) or glob (a directory), "
                             "not both")
        if self.regex is not None:
            try:
                rx = re.compile(self.regex)
            except re.error as e:
                raise ValueError("regex: not a valid regex (%s)" % e)
            if "dir" not in rx.groupindex:
                raise ValueError("regex: needs a named group 'dir'")
        if self.glob is not None and (not self.glob or self.glob.startswith("/")):
            raise ValueError("glob: a pattern relative to the role's working directory")

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> Optional["OutputDiscoverySpec"]:
        if not d:
            return None
        return cls(**{k: v for k, v in d.items() if k in ("role", "regex", "glob")})


@dataclass
class RelaySpec:
    enabled: bool = True          # false: the viewer needs no state rewrites (it follows files
    #                               itself, or reads no state at all)
    stable_for: float = 0.5       # s a checkpoint's size+mtime must not change to be complete
    max_wait: float = 3.0         # a file rewritten faster than that: announce it anyway then
    kick_after: List[float] = field(default_factory=list)  # s after a viewer starts: re-announce
    grace: float = 5.0            # s to linger once training ended and no viewer is alive
    poll: float = 0.25

    __pydantic_config__: ClassVar[Dict[str, Any]] = {"extra": "forbid"}

    def __post_init__(self) -> None:
        for name in ("stable_for", "max_wait", "grace"):
            if not getattr(self, name) >= 0:
                raise ValueError("%s: must be >= 0, found %r" % (name, getattr(self, name)))
        if not self.poll > 0:
            raise ValueError("poll: must be > 0, found %r" % self.poll)
        if any(not (k >= 0) for k in self.kick_after):
            raise ValueError("kick_after: seconds must be >= 0, found %r" % (self.kick_after,))

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> "RelaySpec":
        if not d:
            return cls()
        return cls(**{k: v for k, v in d.items()
                      if k in ("enabled", "stable_for", "max_wait", "kick_after", "grace",
                               "poll")})
