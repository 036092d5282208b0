"""The profile a run was launched with, typed: ``run.json`` keeps it as validated once at launch,
and every reader (checkpoint layout, viewers, recorders, stop policy, metrics, headline) uses
this model instead of picking fields out of a dict with defaults of its own."""
from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from runners.protocol import RunRecord
from runners.protocol.capabilities import Capabilities, foreign_capabilities

from .profiles import Profile, ProfileError, format_validation_error

_CACHE: dict[int, tuple[Any, Profile]] = {}


def run_profile(record: RunRecord, source: Path | str = "run.json") -> Profile:
    """The run's profile model (cached per record object); ProfileError naming ``source``."""
    key = id(record)
    hit = _CACHE.get(key)
    if hit is not None and hit[0]() is record:
        return hit[1]
    try:
        profile = Profile.model_validate(_completed(record))
    except ValidationError as e:
        raise ProfileError(source, "field 'profile': " + format_validation_error(Path(source), e))
    _CACHE[key] = (weakref.ref(record, lambda _r, k=key: _CACHE.pop(k, None)), profile)
    return profile


def _completed(record: RunRecord) -> dict[str, Any]:
    """The stored profile; a partial one (written by hand, or by a tool of its own) is
    completed from the rest of ``run.json``, which holds the same facts."""
    data = dict(record.profile)
    data.setdefault("backend", record.backend)
    data.setdefault("experiment", record.experiment)
    if not data.get("processes"):
        data["processes"] = [{"role": p.role, "argv": list(p.argv),
                              "kind": p.kind if p.kind in ("train", "aux") else "aux"}
                             for p in record.processes] or [{"role": "train", "argv": ["?"]}]
    return data


def run_capabilities(record: RunRecord, source: Path | str = "run.json") -> Capabilities:
    """What the run's backend can do, as its runner said at launch; for a profile whose viewer
    is the user's own program, what follows from the profile."""
    if record.capabilities:
        try:
            return Capabilities.from_dict(record.capabilities, source)
        except Exception:
            pass   # an unreadable entry: fall back to what the profile says
    profile = run_profile(record, source)
    play = profile.play
    if play is not None and play.module is not None:
        # a runner that was not asked (a run from before capabilities were recorded)
        return Capabilities(backend=record.backend, verbs=["train", "play", "record"],
                            displays=["preview", "window"])
    return foreign_capabilities(record.backend, has_play=play is not None)


def run_headline(record: RunRecord | None) -> str | None:
    """The tag the runs list shows for a run (its profile's ``headline``), if any."""
    if record is None:
        return None
    try:
        return run_profile(record).headline
    except ProfileError:
        return None
