"""Log-line metric presets, registered by the backend they belong to.

A backend folder may hold ``log_presets.yaml``: preset name -> a list of patterns, each with a
``regex`` whose named groups are metrics (one may be the ``step_group``), optional ``tags``
(group -> tag), ``kv`` (a regex for ``key=value`` lists of any length, groups ``key`` and
``value``), ``prefix``, ``time_group`` and ``normalize_keys``. ``{NUM}`` in a regex stands for a
number as trainers print them (``1.5e-3``, ``nan``, ``-inf``); ``{KV}`` for a ``key=NUM``
pair. The control center reads these files (it never imports a backend) and checks them like a
profile's own patterns (``docs/metrics.md``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

PRESET_FILE = "log_presets.yaml"
NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|NaN|inf|Inf|infinity)"
KV = r"(?P<key>[A-Za-z_][\w./-]*)\s*=\s*(?P<value>%s)" % NUM
RUNNERS = Path(__file__).resolve().parents[1]

_CACHE = {}  # type: Dict[str, Any]


class PresetError(ValueError):
    pass


def _expand(text: str) -> str:
    return text.replace("{NUM}", NUM).replace("{KV}", KV)


def _read(path: Path) -> Dict[str, List[Dict[str, Any]]]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise PresetError("%s: cannot read (%s)" % (path, e))
    if not isinstance(data, dict):
        raise PresetError("%s: expected a mapping of preset name -> list of patterns" % path)
    out = {}  # type: Dict[str, List[Dict[str, Any]]]
    for name, patterns in data.items():
        if not isinstance(patterns, list) or not all(isinstance(p, dict) for p in patterns):
            raise PresetError("%s: preset %r: expected a list of patterns" % (path, name))
        out[str(name)] = [{k: (_expand(v) if k in ("regex", "kv") and isinstance(v, str)
                                else v) for k, v in p.items()} for p in patterns]
    return out


def presets(root: Optional[Path] = None) -> Dict[str, List[Dict[str, Any]]]:
    """Every backend's presets (name -> raw pattern dicts), read once per process."""
    root = root or RUNNERS
    key = str(root)
    if key not in _CACHE:
        found = {}  # type: Dict[str, List[Dict[str, Any]]]
        owner = {}  # type: Dict[str, Path]
        for path in sorted(root.glob("*/" + PRESET_FILE)):
            for name, pats in _read(path).items():
                if name in found:
                    raise PresetError("%s: preset %r is also defined in %s"
                                      % (path, name, owner[name]))
                found[name], owner[name] = pats, path
        _CACHE[key] = found
    return _CACHE[key]
