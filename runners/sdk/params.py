"""Typed, checked access to a runner's ``params`` (from ``run.json``).

Every runner reads its parameters through a :class:`ParamsReader`; every error is a
``ProtocolError`` that names ``run.json`` and the dotted field (``params.ppo.lr``) and says what
was expected. ``unknown()`` lists the keys the runner did not read, so it can warn about them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from runners.protocol.errors import ProtocolError

MISSING = object()


class ParamsReader(object):
    runner = "this"   # named in "missing (required by the <runner> runner)"

    def __init__(self, source: Union[str, Path], data: Dict[str, Any], prefix: str):
        self.source = source
        self.data = data
        self.prefix = prefix
        self.used = set()  # type: set

    def where(self, key: str) -> str:
        return "%s.%s" % (self.prefix, key)

    def fail(self, key: str, message: str) -> ProtocolError:
        return ProtocolError(self.source, self.where(key), message)

    def _get(self, key: str, default: Any) -> Any:
        self.used.add(key)
        if key not in self.data or self.data[key] is None:
            if default is MISSING:
                raise self.fail(key, "missing (required by the %s runner)" % self.runner)
            return default
        return self.data[key]

    def string(self, key: str, default: Any = MISSING, *, allow_empty: bool = False,
               choices: Optional[Sequence[str]] = None) -> str:
        v = self._get(key, default)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            v = str(v)  # "cuda:0" is a string, but a bare 0 from YAML is fine too
        if not isinstance(v, str) or (not v and not allow_empty):
            raise self.fail(key, "expected a %sstring, found %r"
                            % ("" if allow_empty else "non-empty ", v))
        if choices is not None and v not in choices:
            raise self.fail(key, "must be one of %s, found %r"
                            % (", ".join(repr(c) for c in choices), v))
        return v

    def boolean(self, key: str, default: Any = MISSING) -> bool:
        v = self._get(key, default)
        if not isinstance(v, bool):
            raise self.fail(key, "expected true or false, found %r" % (v,))
        return v

    def integer(self, key: str, default: Any = MISSING, low: Optional[int] = None,
                special: Sequence[int] = ()) -> int:
        v = self._get(key, default)
        if isinstance(v, float) and v.is_integer() and abs(v) < 2 ** 53:
            v = int(v)  # YAML reads 2e5 as a float
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(key, "expected an integer, found %r" % (v,))
        if low is not None and v < low and v not in special:
            extra = (" (or %s)" % ", ".join(str(s) for s in special)) if special else ""
            raise self.fail(key, "must be >= %d%s, found %d" % (low, extra, v))
        return v

    def number(self, key: str, default: Any = MISSING,
               bounds: Tuple[Optional[float], Optional[float]] = (None, None),
               open_low: bool = False) -> float:
        v = self._get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
            raise self.fail(key, "expected a number, found %r" % (v,))
        v = float(v)
        low, high = bounds
        if low is not None and (v < low or (open_low and v == low)):
            raise self.fail(key, "must be %s %g, found %g" % (">" if open_low else ">=", low, v))
        if high is not None and v > high:
            raise self.fail(key, "must be <= %g, found %g" % (high, v))
        return v

    def int_list(self, key: str, default: Any = MISSING) -> List[int]:
        v = self._get(key, default)
        if not isinstance(v, list) or not v or not all(
                isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in v):
            raise self.fail(key, "expected a non-empty list of positive integers, found %r"
                            % (v,))
        return list(v)

    def string_list(self, key: str, default: Any = MISSING) -> List[str]:
        v = self._get(key, default)
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise self.fail(key, "expected a list of strings, found %r" % (v,))
        return list(v)

    def mapping(self, key: str) -> Dict[str, Any]:
        v = self._get(key, {})
        if not isinstance(v, dict):
            raise self.fail(key, "expected a mapping, found %r" % (v,))
        return v

    def frame_size(self, key: str, default: Any = MISSING) -> int:
        """A frame's width or height in pixels: 16..4096 and even (H.264 in yuv420p needs
        even sizes)."""
        v = self.integer(key, default, 16)
        if v > 4096 or v % 2:
            raise self.fail(key, "must be an even number of pixels from 16 to 4096, found %d"
                            % v)
        return v

    def section(self, key: str) -> "ParamsReader":
        """A reader of the mapping under ``key`` (``params.ppo``), of this reader's class."""
        return type(self)(self.source, self.mapping(key), self.where(key))

    def unknown(self) -> List[str]:
        return [self.where(k) for k in sorted(self.data) if k not in self.used]
