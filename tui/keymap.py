"""The user's keymap: a YAML file mapping binding ids to keys, applied with ``App.set_keymap``.

::

    # ~/.config/pitwall/keymap.yaml   (or the file named by $PITWALL_KEYMAP)
    runs.launch: ctrl+n          # one key
    app.quit: q,ctrl+q           # several keys, comma-separated
    checkpoints.load: [enter, l] # or a list

Every binding of the app has an id (``<screen or pane>.<action>``); ``?`` shows them all with
their keys. An unknown id, a value that is not a key, or a file that is not a mapping is an
error that names the file, the id and the ids that exist.
"""
from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any, Mapping

KEYMAP_ENV = "PITWALL_KEYMAP"
_KEY_RE = re.compile(r"^[A-Za-z0-9_+\-]+$|^.$")


class KeymapError(ValueError):
    def __init__(self, path: Path | str, message: str):
        self.path = str(path)
        self.message = message
        super().__init__("%s: %s" % (self.path, message))


def keymap_path() -> Path:
    """``$PITWALL_KEYMAP``, else ``$XDG_CONFIG_HOME/pitwall/keymap.yaml`` (``~/.config``)."""
    env = os.environ.get(KEYMAP_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "pitwall" / "keymap.yaml"


def _keys(value: Any, path: Path, binding_id: str) -> str:
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        parts = [p.strip() for p in value]
    else:
        raise KeymapError(path, "binding %r: expected a key like 'ctrl+n', a comma-separated "
                                "string or a list of keys, got %r" % (binding_id, value))
    if not parts or any(not p or not _KEY_RE.match(p) for p in parts):
        raise KeymapError(path, "binding %r: %r is not a key (examples: n, ctrl+n, f5, "
                                "shift+tab, question_mark)" % (binding_id, value))
    return ",".join(parts)


def parse_keymap(data: Any, path: Path, known: Mapping[str, str]) -> dict[str, str]:
    """Validate a parsed keymap against the known binding ids (id -> description)."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise KeymapError(path, "expected a mapping of binding ids to keys, found %s"
                          % type(data).__name__)
    out: dict[str, str] = {}
    for binding_id, value in data.items():
        if not isinstance(binding_id, str) or binding_id not in known:
            close = difflib.get_close_matches(str(binding_id), list(known), n=3, cutoff=0.5)
            hint = (" Did you mean %s?" % " or ".join(close)) if close else ""
            raise KeymapError(path, "unknown binding id %r.%s Known ids: %s"
                              % (binding_id, hint, ", ".join(sorted(known))))
        out[binding_id] = _keys(value, path, binding_id)
    return out


def load_keymap(path: Path | None, known: Mapping[str, str]) -> dict[str, str]:
    """The keymap in ``path`` (default :func:`keymap_path`); {} when the file does not exist."""
    path = path or keymap_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise KeymapError(path, "cannot read (%s)" % (e.strerror or e))
    import yaml   # only when there is a keymap file (yaml costs ~12 ms at start)

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise KeymapError(path, "not valid YAML: %s" % e)
    return parse_keymap(data, path, known)
