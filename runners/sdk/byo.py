"""Bring your own functions: the toolkit's player over the user's own env and policy code.

For a trainer Pitwall has no backend for, a profile names four functions of the user's checkout
and gets a hot-swapping viewer with preview frames, a window (when the env is MuJoCo) and
``record``, without writing a backend::

    play:
      functions:
        make_env: my_project.envs:make_env        # (params) -> gymnasium-style env
        load: my_project.policy:load              # (path, params) -> policy | (policy, step)
        act: my_project.policy:act                # (policy, obs) -> action
        frame: my_project.envs:render_rgb         # optional: (env) -> H x W x 3 uint8
        path: ["{params.code_dir}"]              # where to import them from

The control center starts ``python -m runners.sdk.byo play ... --functions JSON``. A ``load``
that raises refuses that checkpoint (the viewer keeps its policy). Checkpoints are the user's
format: the user's ``load`` decides what it trusts; Pitwall itself unpickles nothing here.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

from runners.protocol.checkpoints import CheckpointLoadError

from .backend import Backend, PlayContext, PlaySettings
from .params import ParamsReader
from .player import Playback

FUNCTIONS = ("make_env", "load", "act", "frame")
REQUIRED = ("make_env", "load", "act")


class FunctionsError(ValueError):
    pass


def resolve(ref: str, what: str) -> Callable[..., Any]:
    """``package.module:function`` -> the function (FunctionsError saying what is wrong)."""
    mod_name, sep, attr = ref.partition(":")
    if not sep or not mod_name or not attr:
        raise FunctionsError("play.functions.%s: %r is not 'module:function'" % (what, ref))
    try:
        mod = importlib.import_module(mod_name)
    except Exception as e:
        raise FunctionsError("play.functions.%s: cannot import %s (%s: %s)"
                             % (what, mod_name, type(e).__name__, e))
    fn = mod
    for part in attr.split("."):
        fn = getattr(fn, part, None)
        if fn is None:
            raise FunctionsError("play.functions.%s: %s has no %s" % (what, mod_name, attr))
    if not callable(fn):
        raise FunctionsError("play.functions.%s: %s is not callable" % (what, ref))
    return fn


def parse_functions(text: str) -> Dict[str, Any]:
    try:
        spec = json.loads(text)
    except ValueError as e:
        raise FunctionsError("--functions: not JSON (%s)" % e)
    if not isinstance(spec, dict):
        raise FunctionsError("--functions: expected an object")
    missing = [k for k in REQUIRED if not spec.get(k)]
    if missing:
        raise FunctionsError("play.functions: %s missing" % ", ".join(missing))
    return spec


class FunctionsPlayback(Playback):
    def __init__(self, ctx: PlayContext, spec: Dict[str, Any]):
        for p in reversed(spec.get("path") or []):
            if p not in sys.path:
                sys.path.insert(0, str(p))
        self.params = ctx.config
        self.fns = {k: resolve(spec[k], k) for k in FUNCTIONS if spec.get(k)}
        self.env_label = str(spec.get("label") or spec["make_env"])
        self.seed = int(self.params.get("seed", 0) or 0) if isinstance(self.params, dict) else 0
        if "frame" in self.fns:
            self.frame = self._frame   # the toolkit offers preview frames and videos then

    def make_env(self) -> Any:
        env = self.fns["make_env"](self.params)
        dt = getattr(getattr(env, "unwrapped", env), "dt", None)
        self.dt = float(dt) if isinstance(dt, (int, float)) else 0.0
        return env

    def load(self, path: Path) -> Tuple[Any, Optional[int]]:
        try:
            out = self.fns["load"](str(path), self.params)
        except CheckpointLoadError:
            raise
        except Exception as e:
            raise CheckpointLoadError(path, "the profile's load function refused it (%s: %s)"
                                      % (type(e).__name__, e))
        if isinstance(out, tuple) and len(out) == 2 and (out[1] is None or
                                                         isinstance(out[1], int)):
            return out[0], out[1]
        from runners.protocol import step_from_name

        return out, step_from_name(path.name)

    def act(self, policy: Any, obs: Any) -> Any:
        return self.fns["act"](policy, obs)

    def _frame(self) -> np.ndarray:
        return np.asarray(self.fns["frame"](self.env), dtype=np.uint8)

    def open_window(self, display: str) -> Any:
        u = getattr(self.env, "unwrapped", self.env)
        if hasattr(u, "model") and hasattr(u, "data"):
            from runners.rendering.mujoco_scene import MujocoWindow

            return MujocoWindow(self.env, display)
        raise RuntimeError("a window needs a MuJoCo env (env.unwrapped.model/data); use "
                           "--display none for preview frames")


def _config(params: Dict[str, Any], source: Path) -> Dict[str, Any]:
    return params


def _settings(params: Dict[str, Any]) -> PlaySettings:
    play = params.get("play") if isinstance(params.get("play"), dict) else {}
    r = ParamsReader("run.json", play or {}, "params.play")
    return PlaySettings(realtime=r.boolean("realtime", True), seed=int(params.get("seed", 0)
                                                                       or 0),
                        preview_hz=r.number("preview_hz", 4.0, (0.0, 60.0)))


_SPEC = {}  # type: Dict[str, Any]


def _playback(ctx: PlayContext) -> Playback:
    return FunctionsPlayback(ctx, _SPEC)


BACKEND = Backend(
    name="functions", config=_config, playback=_playback, settings=_settings,
    description="The toolkit's player over the user's own make_env/load/act/frame functions.",
    checkpoint_format="file",
    why_not={"train": "the profile trains with its own command"})


def main(argv: Optional[list] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--functions", default=None)
    known, rest = pre.parse_known_args(args)
    if known.functions is not None:
        try:
            _SPEC.update(parse_functions(known.functions))
        except FunctionsError as e:
            print("error: %s" % e, file=sys.stderr, flush=True)
            return 2
    elif rest and rest[0] in ("play", "record"):
        print("error: --functions is required (the profile's play.functions)", file=sys.stderr)
        return 2
    return BACKEND.main(rest)


if __name__ == "__main__":
    sys.exit(main())
