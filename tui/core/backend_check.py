"""Before a launch: ask the profile's runner to check the parameters, and what it can do.

The range and type rules live once, in the runner's config reader; ``python -m <module> check``
applies them to the parameters about to be launched, so ``total_steps=-5`` or ``num_envs=0`` is
refused before anything is created (exit 2, file and field named) instead of a second after the
start. The same answer carries the backend's capabilities for these parameters, which
``run.json`` keeps for the TUI and CLI.

A runner that cannot be asked (its interpreter missing on this box: a profile for a GPU box)
does not block the launch; the run then starts and reports its own errors, as before.
"""
from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from runners.protocol.capabilities import Capabilities, foreign_capabilities
from runners.protocol.runner_args import CHECK

from .profiles import ProfileError, ResolvedProfile, _Command
from .process_specs import SpecSource, _command

CHECK_TIMEOUT_S = 60.0


@dataclass
class CheckResult:
    capabilities: Capabilities | None = None
    warnings: list[str] = field(default_factory=list)


def _ask(rp: ResolvedProfile, cmd: _Command, where: str, probe_dir: Path) -> dict | None:
    """Run ``<python> -m <module> check``; its JSON verdict, or None when it cannot run."""
    src = SpecSource(rp.params, str(rp.path), probe_dir.name)
    ctx = src.context(probe_dir, "check", viewer_id="check", display="none")
    argv, cwd, env = _command(src, cmd, ctx, [CHECK, "--params-json", "-"], where, Path.cwd())
    argv = argv[:argv.index(CHECK) + 3]   # no profile args: they belong to the verb, not check
    full_env = dict(os.environ)
    full_env.update(env)
    try:
        out = subprocess.run(argv, input=json.dumps(rp.params), capture_output=True, text=True,
                             cwd=cwd, env=full_env, timeout=CHECK_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return None
    for line in reversed(out.stdout.strip().splitlines()):
        try:
            verdict = json.loads(line)
        except ValueError:
            continue
        if isinstance(verdict, dict) and "ok" in verdict:
            return verdict
    return None


def functions_capabilities(backend: str, frame: str | None) -> Capabilities:
    """The toolkit's player over the user's functions: frames (preview, videos) only with a
    ``frame`` function; a window when the env is MuJoCo (known only when it opens)."""
    caps = Capabilities(backend=backend, verbs=["train", "play"], displays=["window"],
                        checkpoint_format="file")
    if frame:
        caps.verbs.append("record")
        caps.displays.insert(0, "preview")
    else:
        why = "play.functions has no frame function, so there are no frames to show or record"
        caps.why_not.update({"record": why, "preview": why})
    return caps


def check_backend(rp: ResolvedProfile, runs_root: Path) -> CheckResult:
    """Raise :class:`ProfileError` when a runner refuses the parameters."""
    probe_dir = runs_root / (rp.experiment + "_check")   # not created: templates only
    result = CheckResult()
    asked: dict[tuple[str | None, str | None], dict | None] = {}
    commands = [(p, "processes[%d]" % i) for i, p in enumerate(rp.profile.processes)]
    if rp.profile.play is not None:
        commands.append((rp.profile.play, "play"))
    for cmd, where in commands:
        if cmd.module is None or getattr(cmd, "functions", None) is not None:
            continue   # a command of the user's own, or the user's own play functions
        key = (cmd.python, cmd.module)
        if key not in asked:
            asked[key] = _ask(rp, cmd, where, probe_dir)
            verdict = asked[key]
            if verdict is None:
                result.warnings.append("could not ask %s to check the parameters (%s)"
                                       % (cmd.module, "its interpreter did not run"))
                continue
            if not verdict.get("ok"):
                errs = verdict.get("errors") or [{}]
                first = errs[0]
                fld = first.get("field")
                raise ProfileError(rp.path, "%s%s (checked by %s)" % (
                    "field %r: " % fld if fld else "", first.get("message", "refused"),
                    cmd.module))
            result.warnings += ["parameter %s is not used by %s" % (w, cmd.module)
                                for w in verdict.get("warnings") or []]
    play = rp.profile.play
    if play is not None and play.functions is not None:
        result.capabilities = functions_capabilities(rp.profile.backend, play.functions.frame)
    elif play is not None and play.module is not None:
        verdict = asked.get((play.python, play.module))
        if verdict and isinstance(verdict.get("capabilities"), dict):
            try:
                result.capabilities = Capabilities.from_dict(verdict["capabilities"], rp.path)
            except Exception:
                result.capabilities = None
    elif play is None or play.module is None:
        result.capabilities = foreign_capabilities(rp.profile.backend, has_play=play is not None)
    return result
