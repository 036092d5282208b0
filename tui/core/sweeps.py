"""Sweeps: Hydra's multirun syntax expanded into one list of overrides per run.

``pitwall launch -m PROFILE seed=0,1,2 ppo.lr=1e-3,3e-4`` gives 3 x 2 = 6 runs, in Hydra's
basic-sweeper order (the first swept key varies slowest). What a value may be:

- a comma list ``a,b,c`` (commas inside ``[]``, ``{}``, ``()`` or quotes don't split:
  ``hidden=[64,64],[128,128]`` is two values, ``note='a,b'`` is one);
- ``choice(a,b,c)``;
- ``range(stop)``, ``range(start,stop)``, ``range(start,stop,step)`` (also ``start=``,
  ``stop=``, ``step=``): integers, or floats when any bound is a float, stop excluded;
- ``glob(pattern)``, ``glob([p1,p2], exclude=pattern|[...])``: the values of the profile's
  ``choices:`` for that key whose text matches (Hydra globs config-group options; a profile's
  ``choices`` play that part here).

Each value is kept as typed text and validated later like any override, so a sweep is checked
run by run before any run starts (``tui.core.launchers``).
"""
from __future__ import annotations

import datetime as _dt
import fnmatch
import itertools
import os
import re
from dataclasses import dataclass
from typing import Any, Mapping

from .overrides import format_value

MAX_RUNS = 1000
_FUNC_RE = re.compile(r"^(choice|range|glob)\((.*)\)$", re.S)


class SweepError(ValueError):
    pass


@dataclass(frozen=True)
class SweepOverride:
    """One ``key=...`` override: its prefix (``""`` or ``+``), key and the values it takes."""
    raw: str
    prefix: str
    key: str
    values: tuple[str, ...]

    @property
    def swept(self) -> bool:
        return len(self.values) > 1 or _FUNC_RE.match(self.raw.split("=", 1)[1].strip()) \
            is not None

    def overrides(self) -> list[str]:
        return ["%s%s=%s" % (self.prefix, self.key, v) for v in self.values]


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside brackets, braces, parentheses and quotes."""
    parts, depth, quote, cur = [], 0, "", []
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\" and i + 1 < len(text):
                cur.append(text[i:i + 2])
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c in "[{(":
            depth += 1
        elif c in "]})":
            depth -= 1
        elif c == sep and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    if quote:
        raise SweepError("unclosed quote in %r" % text)
    if depth != 0:
        raise SweepError("unbalanced brackets in %r" % text)
    parts.append("".join(cur).strip())
    return parts


def parse_sweep(raw: str, choices: Mapping[str, list[Any]] | None = None) -> SweepOverride:
    """The values one override takes (one value when it is not a sweep)."""
    text = raw.strip()
    if text.startswith("~") or "=" not in text:
        return SweepOverride(raw, "", "", (text,))   # ~key (or a malformed one): passes as is
    prefix = "+" if text.startswith("+") else ""
    key, value = text[len(prefix):].split("=", 1)
    key, value = key.strip(), value.strip()
    m = _FUNC_RE.match(value)
    try:
        if m is not None:
            values = _function(m.group(1), m.group(2), key, choices or {})
        else:
            values = split_top_level(value) if value else [""]
    except SweepError as e:
        raise SweepError("override %r: %s" % (raw, e))
    if any(v == "" for v in values) and len(values) > 1:
        raise SweepError("override %r: empty value in the list" % raw)
    return SweepOverride(raw, prefix, key, tuple(values))


def _function(name: str, inner: str, key: str, choices: Mapping[str, list[Any]]) -> list[str]:
    args = split_top_level(inner) if inner.strip() else []
    pos = [a for a in args if not _is_named(a)]
    named = dict(a.split("=", 1) for a in args if _is_named(a))
    named = {k.strip(): v.strip() for k, v in named.items()}
    if name == "choice":
        if named or not pos:
            raise SweepError("choice() takes one or more values")
        return pos
    if name == "range":
        return _range(pos, named)
    return _glob(pos, named, key, choices)


def _is_named(arg: str) -> bool:
    return re.match(r"^[A-Za-z_]\w*\s*=", arg) is not None


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise SweepError("range(): %r is not a number" % text)


def _range(pos: list[str], named: dict[str, str]) -> list[str]:
    unknown = set(named) - {"start", "stop", "step"}
    if unknown:
        raise SweepError("range(): unknown argument %s (start, stop, step)" % sorted(unknown))
    names = ["start", "stop", "step"] if len(pos) >= 2 else ["stop"]
    given = dict(zip(names, pos))
    if len(pos) > 3:
        raise SweepError("range() takes at most 3 arguments (start, stop, step)")
    for k, v in named.items():
        if k in given:
            raise SweepError("range(): %s given twice" % k)
        given[k] = v
    if "stop" not in given:
        raise SweepError("range() needs a stop")
    start = _number(given.get("start", "0"))
    stop = _number(given["stop"])
    step = _number(given.get("step", "1"))
    if step == 0:
        raise SweepError("range(): step must not be 0")
    floats = any(isinstance(x, float) for x in (start, stop, step))
    out: list[str] = []
    n = 0
    while True:
        v = start + n * step
        if (step > 0 and v >= stop) or (step < 0 and v <= stop):
            break
        out.append(format_value(round(float(v), 12) if floats else int(v)))
        n += 1
        if n > MAX_RUNS:
            raise SweepError("range() gives more than %d values" % MAX_RUNS)
    if not out:
        raise SweepError("range(%s, %s, %s) is empty" % (start, stop, step))
    return out


def _patterns(text: str) -> list[str]:
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        return [p.strip().strip("'\"") for p in split_top_level(text[1:-1]) if p.strip()]
    return [text.strip("'\"")]


def _glob(pos: list[str], named: dict[str, str], key: str,
          choices: Mapping[str, list[Any]]) -> list[str]:
    unknown = set(named) - {"include", "exclude"}
    if unknown or len(pos) > 1:
        raise SweepError("glob() takes include (a pattern or [patterns]) and exclude=")
    include = _patterns(pos[0] if pos else named.get("include", "*"))
    exclude = _patterns(named["exclude"]) if "exclude" in named else []
    if key not in choices:
        raise SweepError("glob() picks among the profile's choices for %r, and it declares "
                         "none (choices: %s)" % (key, ", ".join(sorted(choices)) or "none"))
    texts = [format_value(c) for c in choices[key]]
    out = [t for t in texts if any(fnmatch.fnmatchcase(t, p) for p in include)
           and not any(fnmatch.fnmatchcase(t, p) for p in exclude)]
    if not out:
        raise SweepError("glob(): no choice of %r matches (choices: %s)"
                         % (key, ", ".join(texts)))
    return out


def expand(overrides: list[str], choices: Mapping[str, list[Any]] | None = None
           ) -> list[list[str]]:
    """One list of plain overrides per run: the product of the swept values, first key
    slowest (Hydra's basic sweeper). Without a sweep: one run with the overrides as given."""
    parsed = [parse_sweep(o, choices) for o in overrides]
    lists = [p.overrides() if p.key else [p.raw] for p in parsed]
    total = 1
    for values in lists:
        total *= len(values)
    if total > MAX_RUNS:
        raise SweepError("the sweep gives %d runs; at most %d at once" % (total, MAX_RUNS))
    return [list(combo) for combo in itertools.product(*lists)]


def swept(overrides: list[str], choices: Mapping[str, list[Any]] | None = None) -> list[str]:
    """The overrides that are sweeps (to refuse them without ``-m``, as Hydra does)."""
    out = []
    for o in overrides:
        try:
            p = parse_sweep(o, choices)
        except SweepError:
            continue
        if p.key and p.swept:
            out.append(o)
    return out


def new_sweep_id(when: _dt.datetime | None = None) -> str:
    """``sw-20261201-142251-3fa9``: sortable, short enough to type, unique."""
    when = when or _dt.datetime.now()
    return "sw-%s-%s" % (when.strftime("%Y%m%d-%H%M%S"), os.urandom(2).hex())
