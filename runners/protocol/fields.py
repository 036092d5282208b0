"""Typed access to fields of a decoded protocol file, with errors that name file and field."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple, Union

from .errors import ProtocolError

_MISSING = object()

# every integer of the protocol (steps, pids, sizes, seq) fits in 64 bits: numpy arrays, os.kill
# and struct need it, and a value beyond it is a corrupted or hostile file
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    dict: "an object",
    list: "a list",
    type(None): "null",
}


def _describe(kinds: Tuple[type, ...]) -> str:
    return " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)


def field(obj: Dict[str, Any], key: str, kinds: Union[type, Tuple[type, ...]],
          path: Union[str, Path], default: Any = _MISSING,
          choices: Optional[Sequence[Any]] = None) -> Any:
    """Return ``obj[key]`` checked against ``kinds`` (bool never passes for int/float)."""
    if not isinstance(kinds, tuple):
        kinds = (kinds,)
    if key not in obj:
        if default is _MISSING:
            raise ProtocolError(path, key, "missing (expected %s)" % _describe(kinds))
        return default
    value = obj[key]
    ok = False
    for k in kinds:
        if k in (int, float) and isinstance(value, bool):
            continue
        if k is float and isinstance(value, int):
            ok = True
            break
        if isinstance(value, k):
            ok = True
            break
    if not ok:
        raise ProtocolError(path, key, "expected %s, found %.80r" % (_describe(kinds), value))
    if isinstance(value, int) and not isinstance(value, bool) and not is_int64(value):
        raise ProtocolError(path, key, "%d is outside the 64-bit integer range" % value)
    if choices is not None and value not in choices:
        raise ProtocolError(path, key, "must be one of %s, found %r"
                            % (", ".join(repr(c) for c in choices), value))
    if float in kinds and isinstance(value, int) and int not in kinds:
        value = float(value)
    return value


def is_int64(value: Any) -> bool:
    """An ``int`` (not a bool) that fits in a signed 64-bit integer."""
    return isinstance(value, int) and not isinstance(value, bool) and \
        INT64_MIN <= value <= INT64_MAX
