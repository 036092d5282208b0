"""The ``.wandb`` file W&B writes for every run (online and offline), read without ``wandb``.

The format (read from wandb's public source, ``wandb/sdk/internal/datastore.py`` and
``wandb/proto/wandb_internal.proto``; nothing of it is copied here):

* a 7-byte header: ``:W&B``, magic ``0xBEE1`` (little-endian uint16), version 0;
* then LevelDB's log format: 32 KiB blocks of records, each a 7-byte header (checksum uint32,
  length uint16, type uint8: FULL 1, FIRST 2, MIDDLE 3, LAST 4) and its data; a record never
  starts in the last 6 bytes of a block (zero padding). A logical record that does not fit is
  split FIRST, MIDDLE..., LAST across blocks. The checksum is zlib's CRC-32 of the data,
  seeded with the CRC-32 of the type byte (not LevelDB's masked CRC-32C);
* each logical record is a protobuf ``Record``: ``history`` (field 2) holds ``HistoryItem``\\ s
  (``key`` 1, ``nested_key`` 2, ``value_json`` 16) and a ``HistoryStep`` (field 2, ``num`` 1);
  ``config`` (field 5) and ``run.config`` (``run`` field 17, its field 4) hold ``ConfigItem``\\ s
  with the same layout (``update`` 1, ``remove`` 2).

A file being written by a live run ends mid-record: :func:`scan` consumes only whole logical
records, so the rest is read again once complete. The protobuf wire decoding is the one the
TensorBoard reader uses (:func:`.event_decode.iter_fields`).
"""
from __future__ import annotations

import json
import math
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any

from .event_proto import DecodeError, iter_fields

HEADER = struct.pack("<4sHB", b":W&B", 0xBEE1, 0)
HEADER_LEN = 7
BLOCK = 32768
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
_SEED = {t: zlib.crc32(bytes([t])) for t in (FULL, FIRST, MIDDLE, LAST)}


@dataclass
class Scan:
    records: list[bytes] = field(default_factory=list)   # whole logical records, in order
    consumed: int = 0            # bytes of ``data`` that are done with
    bad_checksum: int = 0        # physical records dropped (with the record they were part of)
    bad_layout: int = 0          # a MIDDLE/LAST without a FIRST, an unknown type ...
    bad_header: bool = False     # the file does not start like a .wandb file


def scan(data: bytes, base: int) -> Scan:
    """Whole logical records in ``data``, which starts at file offset ``base``."""
    out = Scan()
    pos = 0
    n = len(data)
    if base == 0:
        if n < HEADER_LEN:
            return out
        if data[:4] != HEADER[:4] or data[4:6] != HEADER[4:6]:
            out.bad_header = True
            return out
        pos = out.consumed = HEADER_LEN
    frags: list[bytes] | None = None
    while True:
        left = BLOCK - (base + pos) % BLOCK
        if left < HEADER_LEN:               # the block's trailer: zero padding
            if pos + left > n:
                break
            pos += left
            if frags is None:
                out.consumed = pos
            continue
        if pos + HEADER_LEN > n:
            break
        crc, length, kind = struct.unpack_from("<IHB", data, pos)
        end = pos + HEADER_LEN + length
        if end > n:
            break                            # being written: wait for the rest
        if kind == 0 and length == 0 and crc == 0:
            break                            # zeros not yet overwritten: wait
        body = data[pos + HEADER_LEN:end]
        pos = end
        if kind not in _SEED:
            out.bad_layout += 1
            frags = None
            out.consumed = pos
            continue
        if zlib.crc32(body, _SEED[kind]) & 0xFFFFFFFF != crc:
            out.bad_checksum += 1
            frags = None
            out.consumed = pos
            continue
        if kind == FULL:
            if frags is not None:
                out.bad_layout += 1
            frags = None
            out.records.append(body)
            out.consumed = pos
        elif kind == FIRST:
            if frags is not None:
                out.bad_layout += 1
            frags = [body]
        elif frags is None:                  # MIDDLE or LAST without its FIRST
            out.bad_layout += 1
            out.consumed = pos
        elif kind == MIDDLE:
            frags.append(body)
        else:
            frags.append(body)
            out.records.append(b"".join(frags))
            frags = None
            out.consumed = pos
    return out


# ====================================================================== records

@dataclass
class HistoryRow:
    step: int | None
    wall: float
    scalars: dict[str, float]
    skipped: int = 0              # items that are not numbers (media, strings, tables ...)


@dataclass
class Decoded:
    history: list[HistoryRow] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)       # updates, in order
    config_removed: list[str] = field(default_factory=list)
    run: dict[str, str] = field(default_factory=dict)          # id, project, name
    records: int = 0
    undecodable: int = 0


def _text(v: Any) -> str:
    if not isinstance(v, (bytes, bytearray)):
        raise DecodeError("expected a string")
    return bytes(v).decode("utf-8", errors="replace")


def _item(b: bytes) -> tuple[str, str]:
    """(key, value_json) of a HistoryItem / ConfigItem; nested keys joined with '.'."""
    key, nested, value = "", [], ""
    for num, wt, v in iter_fields(b):
        if num == 1 and wt == 2:
            key = _text(v)
        elif num == 2 and wt == 2:
            nested.append(_text(v))
        elif num == 16 and wt == 2:
            value = _text(v)
    return (key or ".".join(nested)), value


def _config(b: bytes, out: Decoded) -> None:
    for num, wt, v in iter_fields(b):
        if wt != 2:
            continue
        if num == 1:
            k, value = _item(v)
            try:
                out.config[k] = json.loads(value) if value else None
            except ValueError:
                out.config[k] = value
        elif num == 2:
            out.config_removed.append(_item(v)[0])


def _number(value: str) -> float | None:
    try:
        x = json.loads(value)
    except ValueError:
        return None
    if isinstance(x, bool):
        return 1.0 if x else 0.0
    if isinstance(x, (int, float)):
        return float(x)
    return None


def _history(b: bytes) -> HistoryRow:
    scalars: dict[str, float] = {}
    step: int | None = None
    wall = math.nan
    skipped = 0
    step_num: int | None = None
    for num, wt, v in iter_fields(b):
        if num == 1 and wt == 2:
            key, value = _item(v)
            if key == "_step":
                x = _number(value)
                step = int(x) if x is not None and math.isfinite(x) else None
            elif key == "_timestamp":
                x = _number(value)
                wall = x if x is not None else math.nan
            elif key.startswith("_"):
                continue                      # _runtime, _wandb ...
            else:
                x = _number(value)
                if x is None:
                    skipped += 1
                else:
                    scalars[key] = x
        elif num == 2 and wt == 2:
            step_num = 0
            for n2, w2, v2 in iter_fields(v):
                if n2 == 1 and w2 == 0:
                    step_num = v2 - (1 << 64) if v2 >= (1 << 63) else v2
    return HistoryRow(step if step is not None else step_num, wall, scalars, skipped)


def decode(records: list[bytes]) -> Decoded:
    """History rows, config updates and the run's identity from logical records."""
    out = Decoded()
    for rec in records:
        out.records += 1
        try:
            for num, wt, v in iter_fields(rec):
                if wt != 2:
                    continue
                if num == 2:
                    out.history.append(_history(v))
                elif num == 5:
                    _config(v, out)
                elif num == 17:
                    for n2, w2, v2 in iter_fields(v):
                        if w2 != 2:
                            continue
                        if n2 == 4:
                            _config(v2, out)
                        elif n2 in (1, 3, 8):
                            out.run[{1: "id", 3: "project", 8: "name"}[n2]] = _text(v2)
        except (DecodeError, UnicodeDecodeError, ValueError):
            out.undecodable += 1
    return out
