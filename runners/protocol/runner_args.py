"""The command line between the control center and a runner, defined once for both sides.

The control center starts ``python -m <module> <verb> ...`` with the argument lists built here;
every runner's ``main`` (``runners.sdk.runner_main``) parses them with the parsers built here::

    train    --run-dir D --role R [--resume CKPT]
    play     --run-dir D --role V --viewer-id V --display none|:0|wayland-0
    record   --run-dir D --role R [--checkpoint CKPT] [--episodes N]
    describe                      prints the backend's capabilities (JSON, one line)
    check    --params-json FILE   checks parameters before a launch (JSON verdict, exit 0/2)

``<module>`` is ``runners.<name>`` for a profile's ``runner: <name>``, or the dotted module a
profile names with ``runner_module:`` (a backend that lives in the user's own code).
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any, List, Optional, Union

TRAIN = "train"
PLAY = "play"
RECORD = "record"
DESCRIBE = "describe"
CHECK = "check"
STANDARD_VERBS = (TRAIN, PLAY, RECORD)
CONTROL_VERBS = (DESCRIBE, CHECK)

CHECKPOINT_PLACEHOLDER = "{checkpoint}"
DEFAULT_RESUME_ARGS = ["--resume", CHECKPOINT_PLACEHOLDER]   # how a runner is told to resume
RECORD_SOURCES = ("record", "training")

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2        # bad run dir, parameter, checkpoint or argument: nothing was done

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_MODULE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

PathLike = Union[str, Path]


def check_runner_name(name: str) -> str:
    if not _NAME_RE.match(name or ""):
        raise ValueError("runner %r: must be a module name under runners/ (e.g. mujoco)" % name)
    return name


def check_module_name(name: str) -> str:
    if not _MODULE_RE.match(name or ""):
        raise ValueError("runner_module %r: must be a dotted Python module name "
                         "(e.g. my_project.pitwall_backend)" % name)
    return name


def runner_module(runner: Optional[str] = None, module: Optional[str] = None) -> str:
    """The module ``python -m`` runs: ``runners.<runner>`` or a module of the user's own."""
    if module:
        return check_module_name(module)
    if runner:
        return "runners." + check_runner_name(runner)
    raise ValueError("give a runner or a runner_module")


# ---------------------------------------------------------------------- building (control center)

def train_args(run_dir: PathLike, role: str) -> List[str]:
    return [TRAIN, "--run-dir", str(run_dir), "--role", role]


def resume_args(checkpoint: PathLike) -> List[str]:
    return [a.replace(CHECKPOINT_PLACEHOLDER, str(checkpoint)) for a in DEFAULT_RESUME_ARGS]


def play_args(run_dir: PathLike, viewer_id: str, display: str) -> List[str]:
    return [PLAY, "--run-dir", str(run_dir), "--role", viewer_id, "--viewer-id", viewer_id,
            "--display", display or "none"]


def record_args(run_dir: PathLike, role: str, episodes: int,
                checkpoint: Optional[PathLike] = None) -> List[str]:
    out = [RECORD, "--run-dir", str(run_dir), "--role", role, "--episodes", str(int(episodes))]
    if checkpoint is not None:
        out += ["--checkpoint", str(checkpoint)]
    return out


def check_args(params_json: PathLike) -> List[str]:
    return [CHECK, "--params-json", str(params_json)]


# ---------------------------------------------------------------------- parsing (runner)

def add_train_arguments(p: argparse.ArgumentParser, resume_help: str) -> None:
    p.add_argument("--run-dir", required=True, type=Path)
    p.add_argument("--role", default="train", help="role name in metrics.jsonl (default train)")
    p.add_argument("--resume", type=Path, default=None, metavar="CKPT_PATH", help=resume_help)


def add_play_arguments(p: argparse.ArgumentParser, display_help: str) -> None:
    p.add_argument("--run-dir", required=True, type=Path)
    p.add_argument("--viewer-id", required=True)
    p.add_argument("--role", default=None,
                   help="the viewer's role (Pitwall's viewer start passes it; = the viewer id)")
    p.add_argument("--display", default="none", help=display_help)


def add_record_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run-dir", required=True, type=Path)
    p.add_argument("--role", default=None, help="the recorder's role (Pitwall passes it)")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint file (absolute or relative to the run dir; default the "
                        "run's latest)")
    p.add_argument("--episodes", type=int, default=1)
    p.add_argument("--size", default=None, metavar="WxH",
                   help="frame size (default params video_width x video_height)")
    p.add_argument("--fps", type=float, default=None,
                   help="frames per second (default params.video_fps, else the env's rate)")
    p.add_argument("--max-steps", type=int, default=None,
                   help="cut an episode after this many steps (default params.max_video_steps)")
    p.add_argument("--settle-steps", type=int, default=None,
                   help="zero-action steps after each reset before recording "
                        "(default params.settle_steps)")
    p.add_argument("--source", default="record", choices=RECORD_SOURCES)
    p.add_argument("--train-episode", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--delete-checkpoint", action="store_true", help=argparse.SUPPRESS)


def add_check_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params-json", required=True, type=Path,
                   help="a JSON object with the parameters to check ('-' = stdin)")


def resolve_run_path(raw: Any, run_dir: Path) -> Path:
    """A path argument: absolute, existing from the cwd, else relative to the run directory."""
    p = Path(raw)
    if p.is_absolute() or p.exists():
        return p
    return run_dir / p
