"""Unpickling untrusted files with an explicit allow-list of globals.

A pickle can name any importable callable and call it while loading; ``pickle.load`` on a file
someone else wrote is code execution. :class:`AllowListUnpickler` resolves a global only when
its full name (``module.qualname``) is in the allow-list it is given, and then to the object
the list maps it to, which may be a checked stand-in rather than the original (a JAX array
becomes a numpy array without importing jax). Everything else is refused by name.

The lists here cover what checkpoints of JAX trainers really hold (SkeletonSteering's
``amp_ppo_jax_best.pkl``: dicts, floats, numpy arrays and ``jax.Array`` leaves pickled through
``jax._src.array._reconstruct_array``; flax ``FrozenDict`` in older flax). After loading, every
leaf is checked again (:func:`check_plain_tree`): containers, numbers, strings, bytes and
numpy arrays/scalars of non-object dtypes only.

Other untrusted pickles (SERL's demo files) use :func:`load_pickle`: numpy arrays and plain
Python values, and the same check of every leaf. :func:`write_pickle` is the writing side: an
atomic replace, so a reader never sees half a file.

Stdlib only at import time; numpy is imported when a numpy allow-list is built.
"""
from __future__ import annotations

import _compat_pickle
import collections
import io
import pickle
from pathlib import Path
import importlib
from typing import IO, Any, Dict, FrozenSet, Iterable, Mapping, Optional, Tuple, Union

from .atomic import atomic_write_with
from .checkpoint_load import CheckpointLoadError
from .errors import ProtocolError

AllowList = Mapping[str, Any]

MAX_DEPTH = 200   # nesting of containers accepted by check_plain_tree


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a global outside the allow-list."""

    def __init__(self, name: str):
        self.name = name
        super().__init__("holds a type outside the allow-list (%s); refused rather than "
                         "unpickled" % name)


class AllowListUnpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], allow: AllowList):
        super().__init__(file)
        self._allow = allow

    def find_class(self, module: str, name: str) -> Any:
        # protocol 0-2 pickles use Python 2 names (``__builtin__.set``): rename, as pickle does
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        full = "%s.%s" % (module, name)
        if full not in self._allow:
            raise RefusedGlobal(full)
        return self._allow[full]

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not allowed (%r)" % (pid,))


# --------------------------------------------------------------------------- allow-lists

def basic_allow_list() -> Dict[str, Any]:
    """Builtin containers pickle protocols < 4 name by global."""
    return {"builtins.set": set, "builtins.frozenset": frozenset,
            "builtins.complex": complex, "builtins.bytearray": bytearray,
            "builtins.slice": slice, "collections.OrderedDict": collections.OrderedDict,
            "_codecs.encode": _codecs_encode, "builtins.bytes": _bytes}


def _bytes(*args: Any) -> bytes:
    """Protocol 2 pickles ``b""`` as ``bytes()``: only that (and a copy of bytes)."""
    if not args:
        return b""
    if len(args) == 1 and isinstance(args[0], (bytes, bytearray)):
        return bytes(args[0])
    raise pickle.UnpicklingError("bytes(...) only without arguments or from bytes")


def _codecs_encode(text: Any, encoding: str = "utf-8") -> bytes:
    """Protocol 2 pickles bytes as ``_codecs.encode(str, 'latin1')``: only that, checked."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode only for latin1 bytes")
    return text.encode("latin1")


def numpy_allow_list() -> Dict[str, Any]:
    """numpy arrays, dtypes and scalars (numpy 1.x and 2.x module names); no object dtype."""
    import numpy as np

    def dtype(spec: Any, align: bool = False, copy: bool = False) -> Any:
        d = np.dtype(spec, align, copy) if isinstance(spec, str) else None
        if d is None or d.hasobject:
            raise pickle.UnpicklingError("numpy dtype %r refused (object dtypes can hold any "
                                         "Python object)" % (spec,))
        return d

    def reconstruct(subtype: Any, shape: Any, dtype_code: Any) -> Any:
        if subtype is not np.ndarray:
            raise pickle.UnpicklingError("only plain numpy.ndarray may be rebuilt, not %r"
                                         % (subtype,))
        # an empty array: its shape, dtype and bytes come with the BUILD that follows (the
        # pickled shape is ignored, so a forged one cannot make us allocate anything)
        return np.ndarray.__new__(np.ndarray, (0,), np.uint8)

    def scalar(d: Any, data: Any = None) -> Any:
        if not isinstance(d, np.dtype) or d.hasobject or not isinstance(data, bytes):
            raise pickle.UnpicklingError("numpy scalar of dtype %r refused" % (d,))
        return np.frombuffer(data, dtype=d, count=1)[0]

    def frombuffer(buf: Any, d: Any, shape: Any, order: str) -> Any:
        # pickle protocol 5 (numpy >= 1.16): the bytes travel as a (in-band) buffer
        if not isinstance(d, np.dtype) or d.hasobject or order not in ("C", "F"):
            raise pickle.UnpicklingError("numpy buffer of dtype %r refused" % (d,))
        return np.frombuffer(buf, dtype=d).reshape(shape, order=order).copy()

    out = {}  # type: Dict[str, Any]
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        out[mod + "._reconstruct"] = reconstruct
        out[mod + ".scalar"] = scalar
    for mod in ("numpy.core.numeric", "numpy._core.numeric"):
        out[mod + "._frombuffer"] = frombuffer
    out["numpy.ndarray"] = np.ndarray
    out["numpy.dtype"] = dtype
    return out


def jax_array_allow_list() -> Dict[str, Any]:
    """``jax.Array`` leaves, loaded as numpy arrays (jax is not imported).

    jax pickles an array as ``_reconstruct_array(fun, args, arr_state, aval_state)`` where
    ``fun(*args)`` + ``__setstate__(arr_state)`` is numpy's own ndarray pickle; ``fun`` has
    already been resolved through the allow-list by then.
    """
    import numpy as np

    allowed = numpy_allow_list()
    rebuilders = {id(allowed["numpy.core.multiarray._reconstruct"]),
                  id(allowed["numpy._core.multiarray._reconstruct"])}

    def reconstruct_array(fun: Any, args: Any, arr_state: Any, aval_state: Any = None) -> Any:
        if id(fun) not in rebuilders or not isinstance(args, tuple):
            raise pickle.UnpicklingError("jax array with an unexpected rebuild function")
        arr = fun(*args)
        arr.__setstate__(arr_state)
        if not isinstance(arr, np.ndarray) or arr.dtype.hasobject:
            raise pickle.UnpicklingError("jax array of an object dtype refused")
        return arr

    allowed["jax._src.array._reconstruct_array"] = reconstruct_array
    return allowed


def flax_allow_list() -> Dict[str, Any]:
    """flax ``FrozenDict`` (pickled as ``FrozenDict(dict)``), loaded as a plain dict."""

    def frozen_dict(*args: Any, **kw: Any) -> Dict[str, Any]:
        return dict(*args, **kw)

    return {"flax.core.frozen_dict.FrozenDict": frozen_dict}


def jax_checkpoint_allow_list() -> Dict[str, Any]:
    """Everything a pickled JAX/flax checkpoint of numpy and jax arrays needs."""
    out = basic_allow_list()
    out.update(jax_array_allow_list())
    out.update(flax_allow_list())
    return out


# --------------------------------------------------------------------------- loading

_PLAIN = (str, bytes, int, float, bool, complex, type(None))


def check_plain_tree(obj: Any, depth: int = 0) -> None:
    """Raise ``ValueError`` unless ``obj`` is containers of plain values and numpy data."""
    if depth > MAX_DEPTH:
        raise ValueError("nested more than %d levels deep" % MAX_DEPTH)
    if isinstance(obj, _PLAIN):
        return
    if isinstance(obj, (dict, collections.OrderedDict)):
        for k, v in obj.items():
            check_plain_tree(k, depth + 1)
            check_plain_tree(v, depth + 1)
        return
    if isinstance(obj, (list, tuple, set, frozenset)):
        for v in obj:
            check_plain_tree(v, depth + 1)
        return
    if type(obj).__module__.split(".")[0] == "numpy":
        dt = getattr(obj, "dtype", None)
        if dt is not None and not dt.hasobject:
            return
    raise ValueError("holds a %s.%s value" % (type(obj).__module__, type(obj).__qualname__))


def safe_loads(data: bytes, allow: AllowList, source: Union[str, Path] = "<bytes>") -> Any:
    """Unpickle ``data`` with ``allow``; raises :class:`CheckpointLoadError` naming ``source``."""
    if not data:
        raise CheckpointLoadError(source, "empty file (still being written, or the save was "
                                  "interrupted)")
    try:
        obj = AllowListUnpickler(io.BytesIO(data), allow).load()
    except RefusedGlobal as e:
        raise CheckpointLoadError(source, str(e))
    except (EOFError, pickle.UnpicklingError, ValueError, TypeError, IndexError, KeyError,
            AttributeError, OverflowError, MemoryError, RecursionError, UnicodeDecodeError) as e:
        raise CheckpointLoadError(source, explain_pickle_error(data, e))
    try:
        check_plain_tree(obj)
    except (ValueError, RecursionError) as e:
        raise CheckpointLoadError(source, "refused: %s" % e)
    return obj


def explain_pickle_error(data: bytes, e: BaseException) -> str:
    text = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
    if data[:1] != b"\x80":
        return "not a binary pickle (%d bytes, starts with %r)" % (len(data), data[:8])
    if isinstance(e, EOFError) or "truncated" in text or not data.endswith(b"."):
        return ("not a complete pickle (%d bytes; truncated or still being written: %s)"
                % (len(data), text or type(e).__name__))
    return "cannot unpickle (%s: %s)" % (type(e).__name__, text)


def safe_load(path: Union[str, Path], allow: AllowList,
              max_bytes: Optional[int] = None) -> Any:
    """Read and unpickle ``path`` with ``allow``; every failure is a
    :class:`CheckpointLoadError` whose text names the file."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise CheckpointLoadError(path, "%d bytes, more than the %d allowed"
                                      % (size, max_bytes))
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointLoadError(path, "file does not exist")
    except IsADirectoryError:
        raise CheckpointLoadError(path, "is a directory, not a pickle file")
    except OSError as e:
        raise CheckpointLoadError(path, "cannot read: %s" % (e.strerror or e))
    return safe_loads(data, allow, path)


def dump_bytes(obj: Any, protocol: int = 4) -> bytes:
    """What the savers write: a plain ``pickle.dumps`` (protocol 4, Python >= 3.4 reads it)."""
    return pickle.dumps(obj, protocol=protocol)


# --------------------------------------------------------------------------- plain files

Global = Tuple[str, str]


def plain_allow_list() -> Dict[str, Any]:
    """numpy arrays, dtypes and scalars, and plain Python containers: demo files, replay data."""
    out = basic_allow_list()
    out.update(numpy_allow_list())
    return out


DEFAULT_ALLOW = frozenset(tuple(k.rsplit(".", 1)) for k in (
    "builtins.set", "builtins.frozenset", "builtins.complex", "builtins.bytearray",
    "builtins.slice", "collections.OrderedDict", "_codecs.encode", "builtins.bytes",
    "numpy.ndarray", "numpy.dtype", "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray._reconstruct", "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar", "numpy.core.numeric._frombuffer",
    "numpy._core.numeric._frombuffer"))  # type: FrozenSet[Global]


def as_allow_list(allow: Iterable[Global]) -> Dict[str, Any]:
    """``(module, name)`` pairs -> an allow-list: the checked stand-ins for the plain ones, the
    real global for anything else the caller explicitly trusts."""
    plain = plain_allow_list()
    out = {}  # type: Dict[str, Any]
    for module, name in allow:
        full = "%s.%s" % (module, name)
        out[full] = plain[full] if full in plain else \
            getattr(importlib.import_module(module), name)
    return out


def restricted_loads(data: bytes, allow: Iterable[Global] = DEFAULT_ALLOW) -> Any:
    """Unpickle ``data`` resolving only the ``(module, name)`` globals in ``allow``; raises
    :class:`RefusedGlobal` or ``pickle.UnpicklingError``."""
    return AllowListUnpickler(io.BytesIO(data), as_allow_list(allow)).load()


def load_pickle(path: Union[str, Path], allow: Optional[AllowList] = None) -> Any:
    """Read an untrusted pickle of plain values; every failure is a :class:`ProtocolError`
    naming the file (nothing in a refused file was run)."""
    try:
        return safe_load(path, allow if allow is not None else plain_allow_list())
    except CheckpointLoadError as e:
        raise ProtocolError(path, None, e.message)


def write_pickle(path: Union[str, Path], obj: Any, protocol: int = 4) -> None:
    """Pickle ``obj`` to ``path`` atomically (temp file, fsync, rename)."""
    data = dump_bytes(obj, protocol)
    atomic_write_with(path, lambda f: f.write(data))


__all__ = ["AllowListUnpickler", "DEFAULT_ALLOW", "RefusedGlobal", "as_allow_list",
           "basic_allow_list", "check_plain_tree", "dump_bytes", "flax_allow_list",
           "jax_array_allow_list", "jax_checkpoint_allow_list", "load_pickle",
           "numpy_allow_list", "plain_allow_list", "restricted_loads", "safe_load",
           "safe_loads", "write_pickle"]
