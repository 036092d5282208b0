"""TFRecord framing: find the records in a byte buffer, verify their CRC-32C checksums.

A record is ``uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)``,
all little-endian. Reading is batched: one short Python loop walks the lengths (the only part
that must be sequential), then the header and data checksums of every record are verified with
numpy, many records per call (records of one length share one table-driven CRC pass).

Corruption never raises: a record whose data checksum fails is skipped (its header is sound, so
the next record is found); a header that fails its checksum makes the scan search forward for
the next valid header (``resync``). Both are counted in the returned :class:`RecordScan`.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

import google_crc32c
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

HEADER = 12
FOOTER = 4
OVERHEAD = HEADER + FOOTER
MAX_RECORD = 64 << 20          # larger records are skipped unread (images, graphs), not scalars
_VECTOR_MAX_LEN = 4096         # data CRC of longer records: one C call per record
_VECTOR_MIN_GROUP = 24         # fewer records of one length: one C call per record

_Q = struct.Struct("<Q").unpack_from
_HDR = np.dtype([("len", "<u8"), ("crc", "<u4")])
_MASK_DELTA = 0xA282EAD8
_POLY = 0x82F63B78


def masked_crc32c(data: bytes) -> int:
    """The checksum TFRecord stores: CRC-32C, rotated right by 15 bits, plus a constant."""
    c = google_crc32c.value(bytes(data))
    return (((c >> 15) | (c << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def _mask_np(c: np.ndarray) -> np.ndarray:
    c = c.astype(np.uint32, copy=False)
    return ((c >> np.uint32(15)) | (c << np.uint32(17))) + np.uint32(_MASK_DELTA)


def _byte_table() -> np.ndarray:
    t = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        t = np.where(t & 1, (t >> 1) ^ np.uint32(_POLY), t >> 1).astype(np.uint32)
    return t


class _CrcTables(object):
    """``R[t][b]``: what byte ``b`` contributes to the CRC when ``t`` bytes follow it.

    CRC is linear over GF(2), so the CRC of an ``L``-byte message is the CRC of ``L`` zero bytes
    XOR the contributions of every byte, one table lookup each: vectorizable across messages.
    """

    def __init__(self) -> None:
        self.t0 = _byte_table()
        self.rows = [self.t0]
        self.zero_crc = {0: 0}

    def row(self, t: int) -> np.ndarray:
        rows = self.rows
        while len(rows) <= t:
            p = rows[-1]
            rows.append((self.t0[p & 0xFF] ^ (p >> np.uint32(8))).astype(np.uint32))
        return rows[t]

    def zeros(self, n: int) -> int:
        """The (unmasked) CRC-32C of ``n`` zero bytes."""
        z = self.zero_crc.get(n)
        if z is None:
            z = self.zero_crc[n] = google_crc32c.value(bytes(n))
        return z


_TABLES = _CrcTables()


def crc32c_rows(rows: np.ndarray) -> np.ndarray:
    """CRC-32C (unmasked) of every row of an ``(m, L)`` uint8 array."""
    m, n = rows.shape
    acc = np.full(m, _TABLES.zeros(n), dtype=np.uint32)
    row = _TABLES.row
    for j in range(n):
        acc ^= row(n - 1 - j)[rows[:, j]]
    return acc


def masked_crc32c_rows(rows: np.ndarray) -> np.ndarray:
    return _mask_np(crc32c_rows(rows))


@dataclass
class RecordScan:
    """What :func:`scan_records` found in ``buf[start:]``.

    ``positions``/``lengths``: offsets (into ``buf``) and data lengths of the records whose
    checksums hold, in file order. ``end``: the first byte not consumed (a partial record, or
    garbage that no valid record follows yet, starts there). ``need``: bytes needed from ``end``
    to complete the next record when that is known (0 otherwise).
    """
    positions: np.ndarray
    lengths: np.ndarray
    end: int
    need: int = 0
    bad_data: int = 0            # records with a sound header and a failed data checksum
    resyncs: int = 0             # failed headers after which a valid record was found again
    garbage_bytes: int = 0       # bytes skipped by resyncs
    stalled_on_garbage: bool = False   # ``end`` is a failed header with nothing valid after it
    oversized: list = field(default_factory=list)   # (position, length) of skipped huge records


def _walk(buf: bytes, pos: int, end: int, out: list) -> int:
    """Follow the length fields from ``pos``; append record offsets; return where it stopped."""
    ap = out.append
    lim = end - HEADER
    q = _Q
    while pos <= lim:
        nxt = pos + q(buf, pos)[0] + OVERHEAD
        if nxt > end:
            break
        ap(pos)
        pos = nxt
    return pos


def _header_ok(buf: bytes, pos: int) -> bool:
    if len(buf) - pos < HEADER:
        return False
    return masked_crc32c(buf[pos:pos + 8]) == struct.unpack_from("<I", buf, pos + 8)[0]


def _find_header(u8: np.ndarray, start: int, end: int, max_record: int) -> int:
    """The first offset in ``[start, end - 12]`` whose 12 bytes are a valid record header."""
    block = 1 << 20
    cand_start = start
    while cand_start <= end - HEADER:
        stop = min(end - HEADER + 1, cand_start + block)
        win = sliding_window_view(u8[cand_start:stop + HEADER - 1], HEADER)
        # lengths below 2**32: the high four bytes are zero (a cheap filter before the CRC)
        hi = win[:, 4:8]
        cand = np.flatnonzero(~hi.any(axis=1))
        if len(cand):
            h = win[cand]
            got = np.ascontiguousarray(h[:, 8:12]).view("<u4")[:, 0]
            want = masked_crc32c_rows(np.ascontiguousarray(h[:, :8]))
            lens = np.ascontiguousarray(h[:, :8]).view("<u8")[:, 0]
            hit = np.flatnonzero((got == want) & (lens <= np.uint64(max_record)))
            if len(hit):
                return cand_start + int(cand[hit[0]])
        cand_start = stop
    return -1


def scan_records(buf: bytes, start: int = 0, verify: bool = True,
                 max_record: int = MAX_RECORD) -> RecordScan:
    """Find every complete, checksum-valid record in ``buf[start:]``."""
    end = len(buf)
    u8 = np.frombuffer(buf, dtype=np.uint8)
    pos_chunks: list[np.ndarray] = []
    len_chunks: list[np.ndarray] = []
    scan = RecordScan(np.zeros(0, np.int64), np.zeros(0, np.int64), start)
    pos = start
    while True:
        offs: list[int] = []
        stop = _walk(buf, pos, end, offs)
        bad_at = -1
        if offs:
            P = np.array(offs, dtype=np.int64)
            hdr = sliding_window_view(u8, HEADER)[P].view(_HDR)[:, 0]
            L = hdr["len"].astype(np.int64)
            if verify:
                bad_hdr = _bad_headers(L, hdr["crc"])
                if bad_hdr.any():
                    first = int(np.argmax(bad_hdr))
                    bad_at = offs[first]
                    P, L = P[:first], L[:first]
            big = L > max_record
            if big.any():
                scan.oversized += [(int(p), int(n)) for p, n in zip(P[big], L[big])]
                P, L = P[~big], L[~big]
            if verify and len(P):
                ok = _data_ok(buf, u8, P, L)
                scan.bad_data += int(len(ok) - np.count_nonzero(ok))
                P, L = P[ok], L[ok]
            pos_chunks.append(P)
            len_chunks.append(L)
        if bad_at < 0:
            if verify and end - stop >= HEADER and not _header_ok(buf, stop):
                bad_at = stop          # a garbage length that points past the end
            else:
                scan.end = stop
                if end - stop >= HEADER:
                    scan.need = _Q(buf, stop)[0] + OVERHEAD
                break
        nxt = _find_header(u8, bad_at + 1, end, max_record)
        if nxt < 0:
            scan.end = bad_at
            scan.stalled_on_garbage = True
            break
        scan.resyncs += 1
        scan.garbage_bytes += nxt - bad_at
        pos = nxt
    if pos_chunks:
        scan.positions = np.concatenate(pos_chunks)
        scan.lengths = np.concatenate(len_chunks)
    return scan


_hdr_cache: dict[int, int] = {}


def _expected_header_crc(n: int) -> int:
    c = _hdr_cache.get(n)
    if c is None:
        if len(_hdr_cache) > 4096:
            _hdr_cache.clear()
        c = _hdr_cache[n] = masked_crc32c(struct.pack("<Q", n))
    return c


def group_by_length(L: np.ndarray):
    """Record indices grouped by length: yields (length, index array). Lengths of 65535 and
    more share one group, keyed 65535 (their lengths differ inside it)."""
    key = np.minimum(L, 65535).astype(np.uint16)
    order = np.argsort(key, kind="stable")
    ks = key[order]
    cuts = np.flatnonzero(ks[1:] != ks[:-1]) + 1
    bounds = np.concatenate(([0], cuts, [len(order)]))
    for a, b in zip(bounds[:-1], bounds[1:]):
        yield int(ks[a]), order[a:b]


def _groups(L: np.ndarray):
    """Like :func:`group_by_length`, with each long record in a group of its own."""
    for n, idx in group_by_length(L):
        if n == 65535:
            for i in idx:
                yield int(L[i]), np.array([i])
        else:
            yield n, idx


def _bad_headers(L: np.ndarray, crc: np.ndarray) -> np.ndarray:
    bad = np.zeros(len(L), dtype=bool)
    for n, idx in _groups(L):
        bad[idx] = crc[idx] != _expected_header_crc(n)
    return bad


def _data_ok(buf: bytes, u8: np.ndarray, P: np.ndarray, L: np.ndarray) -> np.ndarray:
    ok = np.zeros(len(P), dtype=bool)
    foot = sliding_window_view(u8, FOOTER)
    stored = np.ascontiguousarray(foot[P + HEADER + L]).view("<u4")[:, 0]
    for n, idx in _groups(L):
        if n == 0:
            ok[idx] = stored[idx] == masked_crc32c(b"")
        elif n <= _VECTOR_MAX_LEN and len(idx) >= _VECTOR_MIN_GROUP:
            rows = sliding_window_view(u8, n)[P[idx] + HEADER]
            ok[idx] = masked_crc32c_rows(rows) == stored[idx]
        else:
            for i in idx:
                p = int(P[i]) + HEADER
                ok[i] = masked_crc32c(buf[p:p + n]) == int(stored[i])
    return ok
