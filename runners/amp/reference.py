"""The reference motion: loading and checking it, and the expert caches the seed keeps.

A reference is an ``.npz`` in LocoMuJoCo's ``Trajectory`` layout: ``qpos`` (T, nq), ``qvel``
(T, nv), ``split_points`` (the first frame of each clip and the end of the last), ``frequency``
and optionally ``joint_names``. It is read without pickle (``allow_pickle=False``: LocoMuJoCo
stores empty fields as object arrays, which are skipped, never unpickled), and every mismatch
with the env's model is an error that names the file and the array.

In the results directory, as the seed does:

- ``expert_traj.npz``: the reference as used (same layout);
- ``expert_disc_obs.npz``: the reference's discriminator observations, ``disc_obs`` (E, D), plus
  a ``signature`` (what they were computed from: reference bytes, env, disc_obs settings).
  The seed reuses its cache blindly; here a cache whose signature differs is recomputed.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union

import numpy as np

from runners.protocol import ProtocolError
from runners.protocol.atomic import atomic_write_with

EXPERT_TRAJ = "expert_traj.npz"
EXPERT_DISC_OBS = "expert_disc_obs.npz"


@dataclass
class Reference:
    qpos: np.ndarray
    qvel: np.ndarray
    split_points: np.ndarray
    frequency: float
    joint_names: Optional[List[str]]
    digest: str                      # sha256 of qpos, qvel and split points
    source: str

    @property
    def frames(self) -> int:
        return len(self.qpos)

    @property
    def clip_starts(self) -> List[int]:
        return [int(s) for s in self.split_points[:-1]]

    def arrays(self) -> Dict[str, Any]:
        out = {"qpos": self.qpos, "qvel": self.qvel, "split_points": self.split_points,
               "frequency": np.asarray(self.frequency)}  # type: Dict[str, Any]
        if self.joint_names:
            out["joint_names"] = np.asarray(self.joint_names)
        return out


def _array(data: Any, key: str, path: Path) -> Optional[np.ndarray]:
    if key not in data.files:
        return None
    try:
        return np.asarray(data[key])
    except ValueError:
        return None   # an object array (LocoMuJoCo writes None fields so): not ours to read


def load_reference(path: Union[str, Path], nq: int, nv: int,
                   joint_names: Optional[List[str]] = None,
                   env_label: str = "the env") -> Reference:
    """Read and check a reference motion against a model with ``nq``/``nv``."""
    path = Path(path)
    if not path.is_file():
        raise ProtocolError(path, None, "reference motion file does not exist")
    try:
        data = np.load(str(path), allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise ProtocolError(path, None, "not a readable .npz reference motion (%s)" % e)
    with data:
        try:
            qpos, qvel = _array(data, "qpos", path), _array(data, "qvel", path)
            splits = _array(data, "split_points", path)
            freq = _array(data, "frequency", path)
            names = _array(data, "joint_names", path)
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
            raise ProtocolError(path, None, "damaged .npz (%s)" % e)
    for key, arr in (("qpos", qpos), ("qvel", qvel)):
        if arr is None:
            raise ProtocolError(path, key, "missing (a reference needs qpos and qvel)")
        if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.number):
            raise ProtocolError(path, key, "expected a 2-D numeric array, found shape %s %s"
                                % (arr.shape, arr.dtype))
        if not np.all(np.isfinite(arr)):
            raise ProtocolError(path, key, "holds NaN or infinite values")
    assert qpos is not None and qvel is not None
    if qpos.shape[1] != nq:
        raise ProtocolError(path, "qpos", "has %d columns, %s has nq=%d"
                            % (qpos.shape[1], env_label, nq))
    if qvel.shape[1] != nv:
        raise ProtocolError(path, "qvel", "has %d columns, %s has nv=%d"
                            % (qvel.shape[1], env_label, nv))
    if len(qpos) != len(qvel) or len(qpos) < 2:
        raise ProtocolError(path, "qvel", "has %d frames, qpos %d (need the same, >= 2)"
                            % (len(qvel), len(qpos)))
    t = len(qpos)
    if splits is None or splits.size == 0:
        splits = np.asarray([0, t])
    splits = splits.astype(np.int64).ravel()
    if splits[0] != 0 or splits[-1] != t or np.any(np.diff(splits) <= 0):
        raise ProtocolError(path, "split_points", "must rise from 0 to the frame count %d, "
                            "found %s" % (t, splits.tolist()[:10]))
    frequency = float(freq) if freq is not None and freq.size == 1 else 0.0
    if not frequency > 0:
        raise ProtocolError(path, "frequency", "missing or not positive")
    name_list = [str(n) for n in names.ravel()] if names is not None and names.size else None
    if name_list and joint_names and name_list != list(joint_names):
        raise ProtocolError(path, "joint_names", "differ from %s's joints: file %s, model %s"
                            % (env_label, name_list[:6], list(joint_names)[:6]))
    h = hashlib.sha256()
    for a in (qpos.astype(np.float32), qvel.astype(np.float32), splits):
        h.update(np.ascontiguousarray(a).tobytes())
    return Reference(qpos=qpos.astype(np.float32), qvel=qvel.astype(np.float32),
                     split_points=splits, frequency=frequency, joint_names=name_list,
                     digest=h.hexdigest(), source=str(path))


def write_npz(path: Union[str, Path], arrays: Dict[str, Any]) -> None:
    atomic_write_with(path, lambda f: np.savez(f, **arrays))


def expert_disc_obs(results: Path, signature: Dict[str, Any],
                    compute: Callable[[], np.ndarray],
                    say: Callable[[str], None]) -> np.ndarray:
    """The cached ``expert_disc_obs.npz`` when its signature matches, else ``compute()``
    (written back atomically)."""
    path = results / EXPERT_DISC_OBS
    text = json.dumps(signature, sort_keys=True)
    if path.exists():
        try:
            with np.load(str(path), allow_pickle=False) as data:
                if "signature" in data.files and str(data["signature"]) == text:
                    obs = np.asarray(data["disc_obs"], dtype=np.float32)
                    say("expert discriminator observations: %s (cached, %d x %d)"
                        % (path, obs.shape[0], obs.shape[1]))
                    return obs
            say("expert cache %s was made for other settings: recomputing it" % path)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
            say("expert cache %s is unreadable (%s): recomputing it" % (path, e))
    obs = np.asarray(compute(), dtype=np.float32)
    write_npz(path, {"disc_obs": obs, "signature": np.asarray(text)})
    say("expert discriminator observations: %s (%d x %d)" % (path, obs.shape[0], obs.shape[1]))
    return obs


__all__ = ["EXPERT_DISC_OBS", "EXPERT_TRAJ", "Reference", "expert_disc_obs", "load_reference",
           "write_npz"]
