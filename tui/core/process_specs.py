"""One builder for every process of a run: training roles, viewers and recorders.

A profile command is either a Pitwall runner (``runner:`` / ``runner_module:``, started as
``<python> -m <module> <verb> ...`` with the arguments ``runners.protocol.runner_args``
defines) or a command of the user's own (``argv:``). Whatever the process, its ``args``,
``cwd`` and ``env`` are rendered the same way (templates in docs/profiles.md), so a viewer and a
recorder of the same profile run in the same place with the same environment.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runners.protocol import ProcessSpec, StopPolicy
from runners.protocol import runner_args as ra
from runners.protocol.displays import display_env, is_headless

from .profiles import PlaySpec, ProfileError, RoleSpec, _Command, render

RUNNER_RESUME_ARGS = ra.DEFAULT_RESUME_ARGS


@dataclass
class SpecSource:
    """What templates may use: a run's params, its profile file, its name."""
    params: dict[str, Any]
    profile_path: str
    run_name: str
    extra: dict[str, Any] = field(default_factory=dict)

    def context(self, run_dir: Path, role: str, **more: Any) -> dict[str, Any]:
        ctx: dict[str, Any] = {"params": self.params, "python": sys.executable,
                               "profile_dir": str(Path(self.profile_path).parent)
                               if self.profile_path else "",
                               "run_dir": str(run_dir), "run_name": self.run_name, "role": role}
        ctx.update(self.extra)
        ctx.update(more)
        return ctx


def _command(src: SpecSource, cmd: _Command, ctx: dict[str, Any], verb_args: list[str],
             where: str, run_dir: Path) -> tuple[list[str], str, dict[str, str]]:
    path = src.profile_path or str(run_dir / "run.json")
    if cmd.module is not None:
        python = render(cmd.python, ctx, path, where + ".python") if cmd.python else sys.executable
        argv = [python, "-m", cmd.module] + _functions_args(cmd, ctx, path, where) + verb_args
    else:
        argv = [render(a, ctx, path, where + ".argv") for a in cmd.argv or []]
    argv += [render(a, ctx, path, where + ".args") for a in cmd.args]
    cwd = render(cmd.cwd, ctx, path, where + ".cwd") if cmd.cwd else str(run_dir)
    if not Path(cwd).is_dir():
        raise ProfileError(path, "field %r: working directory %s does not exist"
                           % (where + ".cwd", cwd))
    env = {k: render(v, ctx, path, where + ".env." + k) for k, v in cmd.env.items()}
    return argv, cwd, env


def _functions_args(cmd: _Command, ctx: dict[str, Any], path: str, where: str) -> list[str]:
    """``play.functions``: the toolkit's player learns the user's functions from its args."""
    fns = getattr(cmd, "functions", None)
    if fns is None:
        return []
    spec = fns.model_dump()
    spec["path"] = [render(p, ctx, path, where + ".functions.path") for p in fns.path]
    return ["--functions", json.dumps(spec, sort_keys=True)]


def _pitwall_env(run_dir: Path, role: str) -> dict[str, str]:
    return {"PITWALL_RUN_DIR": str(run_dir), "PITWALL_ROLE": role, "PYTHONUNBUFFERED": "1"}


def train_spec(src: SpecSource, role: RoleSpec, run_dir: Path, order: int) -> ProcessSpec:
    where = "processes[%d]" % order
    ctx = src.context(run_dir, role.role)
    path = src.profile_path or str(run_dir / "run.json")
    verb: list[str] = []
    if role.module is not None:
        verb = ra.train_args(run_dir, role.role) if role.mode == "train" else \
            ra.play_args(run_dir, role.role, "none")
    argv, cwd, env = _command(src, role, ctx, verb, where, run_dir)
    env.update(_pitwall_env(run_dir, role.role))
    ready: dict[str, Any] | None = None
    if role.ready is not None:
        ready = {}
        for k in ("log", "file", "port", "delay"):
            v = getattr(role.ready, k)
            if v is not None:
                ready[k] = render(v, ctx, path, where + ".ready." + k) if isinstance(v, str) \
                    and k != "log" else v
        if "port" in ready:
            try:
                ready["port"] = int(ready["port"])
            except ValueError:
                raise ProfileError(path, "field %r: port %r is not a number"
                                   % (where + ".ready.port", ready["port"]))
    resume = role.resume_args if role.resume_args is not None else (
        RUNNER_RESUME_ARGS if role.module is not None and role.mode == "train" else [])
    resume = [a if ra.CHECKPOINT_PLACEHOLDER in a else
              render(a, ctx, path, where + ".resume_args") for a in resume]
    return ProcessSpec(role=role.role, argv=argv, cwd=cwd, kind=role.kind, env=env, order=order,
                       ready=ready, ready_timeout=role.ready.timeout if role.ready else 120.0,
                       stop=StopPolicy(role.stop.sigint_grace, role.stop.sigterm_grace),
                       resume_args=list(resume))


def viewer_spec(src: SpecSource, play: PlaySpec, run_dir: Path, viewer_id: str,
                display: str, extra_args: list[str] | None = None) -> ProcessSpec:
    ctx = src.context(run_dir, viewer_id, viewer_id=viewer_id, display=display)
    verb = []
    if play.module is not None:
        verb = ra.play_args(run_dir, viewer_id, display) + ["--idle-exit", "%g" % play.idle_exit]
    argv, cwd, env = _command(src, play, ctx, verb, "play", run_dir)
    env.update(_pitwall_env(run_dir, viewer_id))
    env["PITWALL_VIEWER_ID"] = viewer_id
    if not is_headless(display) and display != "video":
        env.update(display_env(display))
    return ProcessSpec(role=viewer_id, argv=argv + list(extra_args or []), cwd=cwd,
                       kind="viewer", env=env, display=display or "none",
                       stop=StopPolicy(play.stop.sigint_grace, play.stop.sigterm_grace))


def record_spec(src: SpecSource, play: PlaySpec, run_dir: Path, role: str,
                checkpoint: Path | None, episodes: int,
                extra_args: list[str] | None = None) -> ProcessSpec:
    """A recorder runs the profile's play runner in ``record`` mode, where its viewers run."""
    if play.module is None:
        raise ProfileError(src.profile_path or str(run_dir / "run.json"),
                           "field 'play': the viewer is a program of the profile's own; only a "
                           "Pitwall runner records videos")
    ctx = src.context(run_dir, role, viewer_id=role, display="none")
    verb = ra.record_args(run_dir, role, episodes, checkpoint)
    argv, cwd, env = _command(src, play, ctx, verb, "play", run_dir)
    env.update(_pitwall_env(run_dir, role))
    return ProcessSpec(role=role, argv=argv + list(extra_args or []), cwd=cwd, kind="aux",
                       env=env, record_target=str(checkpoint) if checkpoint else "",
                       record_episodes=int(episodes),
                       stop=StopPolicy(play.stop.sigint_grace, play.stop.sigterm_grace))


RELAY_ROLE = "relay"


def relay_spec(run_dir: Path, order: int) -> ProcessSpec:
    """The relay (``runners.adapters.relay``): auto mode for a viewer of the user's own, and
    output discovery, with no control center alive."""
    return ProcessSpec(role=RELAY_ROLE, argv=[sys.executable, "-m", "runners.adapters.relay",
                                             "--run-dir", str(run_dir)],
                       cwd=str(run_dir), kind="aux", env=_pitwall_env(run_dir, RELAY_ROLE),
                       order=order, stop=StopPolicy(5.0, 5.0))
