"""Parsing JSON that another process (or a careless hand) wrote: bounded in depth and size.

Every JSON file and line of the protocol is shallow (``run.json``, the deepest, nests a profile
a few levels). A file nested thousands of levels deep (``{"a": [[[[...]]]]}``) makes
``json.loads`` raise ``RecursionError`` (not a ``ValueError``), and a file of a few hundred
levels parses but breaks later code that walks it (``copy.deepcopy``, ``dataclasses.asdict``).
:func:`parse_json` turns both into a ``ValueError`` (:class:`JsonShapeError`), so every reader
that already skips or reports bad JSON handles them the same way.
"""
from __future__ import annotations

import json
from typing import Any, List, Tuple, Union

MAX_DEPTH = 64                 # nesting levels a protocol file or line may have
MAX_FILE_BYTES = 1 << 20       # size of a protocol JSON file (run.json, state, acks, procs)
MAX_LINE_BYTES = 1 << 20       # size of one line of a protocol line log (*.jsonl)
MAX_LOG_BYTES = 64 << 20       # a line log read whole (nn/index.jsonl, procs/history.jsonl ...)


class JsonShapeError(ValueError):
    """Valid JSON text that the protocol refuses: nested too deep."""


def parse_json(data: Union[str, bytes], max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that raises ``ValueError`` for anything it refuses, including nesting
    deeper than ``max_depth`` (``UnicodeDecodeError`` is a ``ValueError`` too)."""
    text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    try:
        obj = json.loads(text)
    except RecursionError:
        raise JsonShapeError("nested too deep to parse (more than %d levels allowed)"
                             % max_depth)
    # a text with fewer brackets than the limit cannot nest deeper: skip the walk (the common
    # case, so metric lines cost one count)
    if text.count("[") + text.count("{") > max_depth:
        depth = json_depth(obj, max_depth)
        if depth > max_depth:
            raise JsonShapeError("nested more than %d levels deep" % max_depth)
    return obj


def json_depth(obj: Any, stop_above: int = MAX_DEPTH) -> int:
    """Nesting depth of a parsed value (a scalar is 0), walked without recursion; stops
    counting once it exceeds ``stop_above``."""
    deepest = 0
    stack = [(obj, 0)]  # type: List[Tuple[Any, int]]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = list(value.values())
        elif isinstance(value, list):
            children = value
        else:
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if deepest > stop_above:
                return deepest
        stack.extend((c, depth) for c in children if isinstance(c, (dict, list)))
    return deepest
