"""What checkpoint file names say: our numbered names, and the step in names real trainers use.

Ours: ``ckpt_000001200.pth`` (zero-padded). Theirs, read numerically: ``ckpt_120.pt`` (ManiSkill's
PPO), ``model_1500.pt``, ``rl_model_40960_steps.zip`` (stable-baselines3),
``last_Ant_ep_100_rew_5.2.pth`` (rl_games: the epoch), ``checkpoint_3000.pth`` (SERL),
``amp_ppo_jax_best.pkl`` / ``final_ckpt.pt`` (no step).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Optional, Tuple

DEFAULT_STEM = "ckpt"
STEP_DIGITS = 9

_INT_RE = re.compile(r"\d+")
_EP_RE = re.compile(r"(?:^|_)(?:ep|epoch|it|iter|step)_?(\d+)", re.IGNORECASE)


def checkpoint_file_name(step: int, stem: str = DEFAULT_STEM, suffix: str = ".pth",
                         digits: int = STEP_DIGITS) -> str:
    """``<stem>_<step><suffix>``, the step zero-padded to ``digits`` (0: not padded, e.g. the
    SERL seed's ``checkpoint_5000.pth``; listings sort numerically either way)."""
    return "%s_%0*d%s" % (stem, digits, int(step), suffix)


def natural_key(name: str) -> Tuple[Any, ...]:
    """Sort key that orders ``ep_100`` after ``ep_99``."""
    parts = re.split(r"(\d+)", name)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts if p != "")


def step_from_name(name: str) -> Optional[int]:
    """The step/epoch a checkpoint file name carries, if any (``ckpt_000100.pth`` -> 100,
    rl_games ``last_Ant_ep_250_rew_12.5.pth`` -> 250, ``rl_model_40960_steps.zip`` -> 40960).
    A reward or loss after the step (``_rew_5.2``) is not a step."""
    stem = Path(name).name
    for suffix in (".pth", ".pt", ".ckpt", ".pkl", ".pickle", ".zip"):
        if stem.lower().endswith(suffix):
            stem = stem[:-len(suffix)]
            break
    m = _EP_RE.search(stem)
    if m:
        return int(m.group(1))
    stem = re.sub(r"_(?:rew|reward|loss|score|ret|return)_?[-+]?[\d.]+.*$", "", stem,
                  flags=re.IGNORECASE)
    ints = _INT_RE.findall(stem)
    return int(ints[-1]) if ints else None
