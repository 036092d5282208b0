"""Loading checkpoints without blind unpickling.

Native files are plain dicts of tensors and numbers: ``torch.load(weights_only=True)``. A
foreign format that needs a few more types (rl_games stores a numpy scalar) passes them in
``allow``, an explicit allow-list. On torch >= 2.5 the list goes to
``torch.serialization.safe_globals``; on an older torch (Isaac Gym's Python 3.8 environments
have torch <= 2.4) a restricted unpickler enforces the same list on top of torch's own
weights-only globals. Nothing outside the list is ever constructed.
"""
from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any, Dict, Sequence, Union


class CheckpointLoadError(Exception):
    def __init__(self, path: Union[str, Path], message: str):
        self.path = str(path)
        self.message = message
        super().__init__("%s: %s" % (self.path, message))


def _global_name(entry: Any) -> str:
    if isinstance(entry, tuple):
        return str(entry[1])
    return "%s.%s" % (entry.__module__, getattr(entry, "__qualname__", entry.__name__))


def load_torch_checkpoint(path: Union[str, Path], map_location: Any = "cpu",
                          allow: Sequence[Any] = ()) -> Dict[str, Any]:
    """Load a dict checkpoint; ``allow`` holds extra globals (objects or ``(obj, name)``)."""
    import torch

    path = Path(path)
    try:
        if allow and hasattr(torch.serialization, "safe_globals"):
            with torch.serialization.safe_globals(list(allow)):
                obj = torch.load(str(path), map_location=map_location, weights_only=True)
        elif allow:
            obj = _load_restricted(path, map_location, allow)
        else:
            obj = torch.load(str(path), map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise CheckpointLoadError(path, "file does not exist")
    except Exception as e:  # torch raises many kinds for truncated / foreign files
        raise CheckpointLoadError(path, explain_load_error(path, e))
    if not isinstance(obj, dict):
        raise CheckpointLoadError(path, "expected a dict checkpoint, found %s" % type(obj).__name__)
    return obj


def explain_load_error(path: Path, e: Exception) -> str:
    """A plain reason instead of torch's advice to turn ``weights_only`` off."""
    import zipfile

    text = str(e)
    try:
        size = path.stat().st_size
    except OSError:
        size = -1
    if size == 0:
        return "empty file (still being written, or the save was interrupted)"
    if not zipfile.is_zipfile(str(path)):
        return ("not a complete torch checkpoint (%d bytes; truncated or corrupted: no zip "
                "archive directory)" % size)
    m = (re.search(r"Unsupported global: (?:GLOBAL )?([^\s]+)", text)
         or re.search(r"unsupported GLOBAL ([^\s]+)", text))
    if m:
        return ("holds a type outside the allow-list (%s); refused rather than unpickled"
                % m.group(1).strip())
    first = text.strip().splitlines()[0] if text.strip() else ""
    return "cannot load checkpoint (%s: %s)" % (type(e).__name__, first[:200])


# --------------------------------------------------------------------------- torch < 2.5

def _torch_weights_only_globals() -> Dict[str, Any]:
    """What torch's own ``weights_only`` unpickler accepts (tensor rebuilders, storages ...)."""
    try:
        from torch import _weights_only_unpickler as wou

        return dict(wou._get_allowed_globals())
    except Exception:  # very old torch: the minimum a state dict of tensors needs
        import collections

        import torch

        out = {"collections.OrderedDict": collections.OrderedDict,
               "torch._utils._rebuild_tensor_v2": torch._utils._rebuild_tensor_v2,
               "torch._utils._rebuild_parameter": torch._utils._rebuild_parameter,
               "torch.Size": torch.Size}  # type: Dict[str, Any]
        for name in ("FloatStorage", "DoubleStorage", "HalfStorage", "LongStorage",
                     "IntStorage", "ByteStorage", "BoolStorage"):
            if hasattr(torch, name):
                out["torch." + name] = getattr(torch, name)
        return out


def _restricted_pickle_module(allowed: Dict[str, Any]) -> Any:
    class RestrictedUnpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            full = "%s.%s" % (module, name)
            if full not in allowed:
                raise pickle.UnpicklingError("Unsupported global: %s was not an allowed global"
                                             % full)
            return allowed[full]

    class RestrictedPickleModule(object):
        Unpickler = RestrictedUnpickler
        load = pickle.load
        __name__ = "pitwall_restricted_pickle"

    return RestrictedPickleModule


def _load_restricted(path: Path, map_location: Any, allow: Sequence[Any]) -> Any:
    import torch

    allowed = _torch_weights_only_globals()
    for entry in allow:
        allowed[_global_name(entry)] = entry[0] if isinstance(entry, tuple) else entry
    return torch.load(str(path), map_location=map_location,
                      pickle_module=_restricted_pickle_module(allowed), weights_only=False)
