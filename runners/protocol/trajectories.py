"""``videos/<stem>.traj.npz``: the recorded episodes of a video as arrays (``save_trajectory``).

Written next to its mp4, atomically, before the video's line is appended to
``videos/index.jsonl`` (so an indexed video's trajectory is complete). A compressed ``.npz``
(``numpy.savez_compressed``) that loads with ``allow_pickle=False``::

    actions      [T, A] float32   the action of each recorded step
    rewards      [T]    float32
    terminated   [T]    bool
    truncated    [T]    bool
    success      [T]    bool      the task's success flag after the step (False if it has none)
    episode      [T]    int32     which recorded episode the step belongs to (0, 1, ...)
    elapsed      [T]    int32     the env's step counter after the step (settle steps included:
                                  an episode's first recorded step has settle_steps + 1)
    obs          [T+E, D] float32 state observations: each episode's first (after settling)
                                  then one per step (E = episodes); rgb runs keep the state part
    env_states   [T+E, S] float32 the simulator state at the same instants (ManiSkill's
                                  ``env.get_state()``, which ``env.set_state()`` restores)
    meta         JSON text: format, env_id, obs_mode, control_mode, video, checkpoint, step,
                 settle_steps, episodes, source

``settle_steps`` zero-action steps ran after each reset before the first recorded state.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Tuple, Union

from .atomic import atomic_write_with
from .errors import ProtocolError

TRAJ_FORMAT = "pitwall.traj/1"
TRAJ_SUFFIX = ".traj.npz"
ARRAYS = ("actions", "rewards", "terminated", "truncated", "success", "episode", "elapsed",
          "obs", "env_states")

PathLike = Union[str, Path]


def trajectory_path(video_path: PathLike) -> Path:
    """``videos/x.mp4`` -> ``videos/x.traj.npz``."""
    p = Path(video_path)
    return p.with_name(p.stem + TRAJ_SUFFIX)


def write_trajectory(path: PathLike, arrays: Dict[str, Any], meta: Dict[str, Any]) -> None:
    import numpy as np

    missing = [k for k in ARRAYS if k not in arrays]
    if missing:
        raise ValueError("trajectory without %s" % ", ".join(missing))
    data = {k: np.asarray(arrays[k]) for k in ARRAYS}
    m = dict(meta, format=TRAJ_FORMAT)
    data["meta"] = np.asarray(json.dumps(m, allow_nan=False))
    atomic_write_with(path, lambda f: np.savez_compressed(f, **data))


def read_trajectory(path: PathLike) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """(arrays, meta); raises :class:`ProtocolError` naming the file and the field."""
    import zipfile

    import numpy as np

    path = Path(path)
    try:
        with np.load(str(path), allow_pickle=False) as z:
            names = set(z.files)
            for k in ARRAYS + ("meta",):
                if k not in names:
                    raise ProtocolError(path, k, "missing")
            arrays = {k: z[k] for k in ARRAYS}
            meta = json.loads(str(z["meta"]))
    except FileNotFoundError:
        raise ProtocolError(path, None, "file does not exist")
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise ProtocolError(path, None, "not a complete trajectory file (%s)" % e)
    if not isinstance(meta, dict) or meta.get("format") != TRAJ_FORMAT:
        raise ProtocolError(path, "meta.format", "expected %r" % TRAJ_FORMAT)
    t = len(arrays["actions"])
    for k in ("rewards", "terminated", "truncated", "success", "episode", "elapsed"):
        if len(arrays[k]) != t:
            raise ProtocolError(path, k, "has %d rows, actions has %d" % (len(arrays[k]), t))
    return arrays, meta
