"""Pickle files that come from outside (demo files, foreign checkpoints), loaded safely.

A pickle can name any importable callable and have it called while it loads (``os.system`` with
any argument, for one). Such files are therefore read with :class:`RestrictedUnpickler`, whose
``find_class`` resolves only the globals of an explicit allow-list; anything else is refused
before it is imported, let alone called. The default allow-list holds what numpy arrays, numpy
scalars and dtypes and plain Python containers need; a reader of another format passes its own
(``allow=DEFAULT_ALLOW | {("mymodule", "MyType")}``) and keeps it as short as it can.

Names are normalised before the check, so a pickle written by Python 2 (``__builtin__``,
``copy_reg``) or by numpy 1.x (``numpy.core.multiarray``) matches the same entries as one written
by numpy 2 (``numpy._core.multiarray``).

:func:`write_pickle` is the writing side: an atomic replace, so a reader never sees half a file.
"""
from __future__ import annotations

import importlib
import io
import pickle
from pathlib import Path
from typing import IO, Any, FrozenSet, Tuple, Union

from .atomic import atomic_write_with
from .errors import ProtocolError

Global = Tuple[str, str]

NUMPY_ARRAYS = frozenset({
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy._core.multiarray", "_reconstruct"),   # ndarray, protocols 2-4
    ("numpy._core.multiarray", "scalar"),         # np.float32(1.0) and friends
    ("numpy._core.numeric", "_frombuffer"),       # ndarray, protocol 5
})  # type: FrozenSet[Global]

BASIC_TYPES = frozenset({
    ("builtins", "complex"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "bytearray"),
    ("builtins", "slice"),
    ("collections", "OrderedDict"),
    ("_codecs", "encode"),   # bytes in protocol-2 pickles; latin-1 only (see _latin1_encode)
})  # type: FrozenSet[Global]

DEFAULT_ALLOW = NUMPY_ARRAYS | BASIC_TYPES

_MODULE_ALIASES = {
    "__builtin__": "builtins",
    "copy_reg": "copyreg",
    "numpy.core.multiarray": "numpy._core.multiarray",
    "numpy.core.numeric": "numpy._core.numeric",
}


def _latin1_encode(obj: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes, and nothing else (a pickle could
    otherwise pick any codec, e.g. a zlib decompression bomb)."""
    if not isinstance(obj, str) or encoding.replace("_", "-").lower() not in ("latin1",
                                                                              "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is allowed for latin-1 text only "
                                     "(found encoding %r)" % (encoding,))
    return obj.encode("latin-1", errors)


def normalise_global(module: str, name: str) -> Global:
    return _MODULE_ALIASES.get(module, module), name


def _resolve(module: str, name: str) -> Any:
    if (module, name) == ("_codecs", "encode"):
        return _latin1_encode
    try:
        mod = importlib.import_module(module)
    except ImportError:
        if not module.startswith("numpy._core"):
            raise
        mod = importlib.import_module(module.replace("numpy._core", "numpy.core", 1))  # numpy<2
    return getattr(mod, name)


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a global outside the allow-list."""

    def __init__(self, module: str, name: str):
        super(RefusedGlobal, self).__init__("%s.%s" % (module, name))
        self.module = module
        self.name = name


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the ``(module, name)`` globals in ``allow``."""

    def __init__(self, file: IO[bytes], allow: FrozenSet[Global] = DEFAULT_ALLOW):
        super(RestrictedUnpickler, self).__init__(file)
        self.allow = frozenset(normalise_global(m, n) for m, n in allow)

    def find_class(self, module: str, name: str) -> Any:
        key = normalise_global(module, name)
        if key not in self.allow:
            raise RefusedGlobal(module, name)
        return _resolve(*key)

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not allowed (found %r)" % (pid,))


def restricted_loads(data: bytes, allow: FrozenSet[Global] = DEFAULT_ALLOW) -> Any:
    """Unpickle ``data`` with the allow-list; raises ``pickle.UnpicklingError`` (or
    :class:`RefusedGlobal`) on anything else."""
    return RestrictedUnpickler(io.BytesIO(data), allow).load()


def load_pickle(path: Union[str, Path], allow: FrozenSet[Global] = DEFAULT_ALLOW) -> Any:
    """Read an untrusted pickle file; every failure is a :class:`ProtocolError` naming it."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ProtocolError(path, None, "file does not exist")
    except OSError as e:
        raise ProtocolError(path, None, "cannot read: %s" % (e.strerror or e))
    if not data:
        raise ProtocolError(path, None, "empty file (0 bytes)")
    try:
        return restricted_loads(data, allow)
    except RefusedGlobal as e:
        raise ProtocolError(path, None, "refused: the pickle names %s.%s, which is outside "
                            "the allow-list of safe types (numpy arrays, plain Python "
                            "values); nothing in it was run" % (e.module, e.name))
    except Exception as e:  # untrusted bytes: whatever breaks the parser means a bad file
        raise ProtocolError(path, None, "not a readable pickle (%s: %s; truncated or "
                            "corrupted?)" % (type(e).__name__, str(e)[:200]))


def write_pickle(path: Union[str, Path], obj: Any, protocol: int = 4) -> None:
    """Pickle ``obj`` to ``path`` atomically (temp file, fsync, rename)."""
    data = pickle.dumps(obj, protocol=protocol)
    atomic_write_with(path, lambda f: f.write(data))


__all__ = ["BASIC_TYPES", "DEFAULT_ALLOW", "NUMPY_ARRAYS", "RefusedGlobal",
           "RestrictedUnpickler", "load_pickle", "normalise_global", "restricted_loads",
           "write_pickle"]
