"""The user's own code: functions imported from their SkeletonSteering checkout.

``import_function("eval_amp_ppo_jax:_make_env", code_dir)`` imports a module of the checkout
(its ``training/`` directory goes first on ``sys.path``, as when the seed's scripts run from
there) and returns the named attribute. The seed's config is the ``amp_ppo_jax_conf.yaml`` its
trainer writes into its results directory; it is handed to the user's functions as OmegaConf
(what the seed's functions expect) when omegaconf is installed, else as an attribute dict.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Union

from runners.protocol import ProtocolError


def import_function(spec: str, code_dir: Path, source: Union[str, Path],
                    field: str) -> Callable[..., Any]:
    module_name, attr = spec.split(":", 1)
    if not code_dir.is_dir():
        raise ProtocolError(source, field, "the checkout's code directory %s does not exist "
                            "(set skeleton_steering_dir)" % code_dir)
    path = str(code_dir)
    if path not in sys.path:
        sys.path.insert(0, path)
    try:
        module = importlib.import_module(module_name)
    except Exception as e:   # the user's module and its imports (loco_mujoco, omegaconf ...)
        raise ProtocolError(source, field, "cannot import %s from %s: %s: %s"
                            % (module_name, code_dir, type(e).__name__, e))
    fn = getattr(module, attr, None)
    if fn is None or not callable(fn):
        raise ProtocolError(source, field, "%s has no function or class %r (%s)"
                            % (module_name, attr, getattr(module, "__file__", "?")))
    return fn


class AttrDict(dict):
    """``cfg.model.actor_hidden_layers`` over a nested dict (OmegaConf's access pattern)."""

    def __getattr__(self, name: str) -> Any:
        try:
            v = self[name]
        except KeyError:
            raise AttributeError(name)
        return AttrDict(v) if isinstance(v, dict) else v


def as_seed_config(d: Dict[str, Any]) -> Any:
    try:
        from omegaconf import OmegaConf
    except ImportError:
        return AttrDict(d)
    return OmegaConf.create(d)


def read_seed_conf(path: Path) -> Dict[str, Any]:
    """The seed's YAML config (written by its trainer); errors name the file."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProtocolError(path, None, "does not exist yet: the seed's trainer writes it into "
                            "its results_dir when it starts; start the viewer after that")
    except OSError as e:
        raise ProtocolError(path, None, "cannot read: %s" % (e.strerror or e))
    try:
        d = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ProtocolError(path, None, "not valid YAML (%s)" % str(e).splitlines()[0])
    if not isinstance(d, dict) or not isinstance(d.get("model"), dict):
        raise ProtocolError(path, "model", "missing: not the seed's amp_ppo_jax_conf.yaml")
    return d


__all__ = ["AttrDict", "as_seed_config", "import_function", "read_seed_conf"]
