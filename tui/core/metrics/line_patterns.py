"""Regexes that turn log lines into metrics: the backends' presets and their matcher.

A :class:`~tui.core.metric_specs.LinePattern` names its metrics with named groups (one may be
the step) and may add a ``kv`` regex for ``key=value`` lists of any length. The presets follow
the lines each backend prints; each backend registers its own in
``runners/<backend>/log_presets.yaml`` (``runners.adapters.log_presets``; ``docs/metrics.md``
shows one example line per preset).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from tui.core.metric_specs import LinePattern

def _load_presets() -> dict[str, list[LinePattern]]:
    """The backends' presets (``runners/<backend>/log_presets.yaml``), checked as patterns."""
    from runners.adapters.log_presets import presets

    return {name: [LinePattern(**p) for p in pats] for name, pats in presets().items()}


PRESETS: dict[str, list[LinePattern]] = _load_presets()

_NONWORD = re.compile(r"[^0-9a-z/]+")


def normalize_key(key: str) -> str:
    """``"Avg Reward"`` -> ``"avg_reward"`` (kv keys of patterns with ``normalize_keys``)."""
    return _NONWORD.sub("_", key.strip().lower()).strip("_")


def parse_number(text: str) -> float:
    """A metric value as printed; raises ValueError when it is not a number."""
    return float(text)


def parse_step(text: str) -> int:
    """A step as written in a CSV cell or a log line: ``1200``, ``1.2e3``, ``1200.0``. Exact
    for integers (no detour through a float); ``ValueError`` for non-numbers and infinities."""
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        f = float(text)
        if not math.isfinite(f):
            raise ValueError(text)
        return int(f)


@dataclass
class LineMatch:
    step: int | None
    time: float | None
    metrics: list[tuple[str, float]]
    bad_values: int               # groups that matched text that is not a number


class CompiledPattern(object):
    def __init__(self, spec: LinePattern):
        self.spec = spec
        self.regex = re.compile(spec.regex)
        self.kv = re.compile(spec.kv) if spec.kv else None
        skip = {spec.step_group, spec.time_group}
        self.groups = [(g, spec.tags.get(g, spec.prefix + g))
                       for g in self.regex.groupindex if g not in skip]

    def match(self, line: str) -> LineMatch | None:
        m = self.regex.search(line)
        if m is None:
            return None
        bad = 0
        step = None
        spec = self.spec
        if spec.step_group is not None:
            raw = m.group(spec.step_group)
            if raw is not None:
                try:
                    step = parse_step(raw)
                except ValueError:
                    step = None
                if step is None:
                    bad += 1
        t = None
        if spec.time_group is not None and m.group(spec.time_group) is not None:
            try:
                t = float(m.group(spec.time_group))
            except ValueError:
                bad += 1
        metrics: list[tuple[str, float]] = []
        for g, tag in self.groups:
            raw = m.group(g)
            if raw is None:
                continue
            try:
                metrics.append((tag, float(raw)))
            except ValueError:
                bad += 1
        if self.kv is not None:
            for kv in self.kv.finditer(line, m.end()):
                key = kv.group("key")
                if spec.normalize_keys:
                    key = normalize_key(key)
                if not key:
                    continue
                try:
                    value = float(kv.group("value"))
                except ValueError:
                    bad += 1
                    continue
                metrics.append((spec.tags.get(key, spec.prefix + key), value))
        return LineMatch(step, t, metrics, bad)


def compile_patterns(preset: str | None, patterns: list[LinePattern]) -> list[CompiledPattern]:
    """The preset's patterns (if any) followed by the profile's own."""
    out = []
    if preset is not None:
        out += [CompiledPattern(p) for p in PRESETS[preset]]
    out += [CompiledPattern(p) for p in patterns]
    return out
