"""Per-frame kinematic features of a MuJoCo body tree, the raw material of AMP's discriminator.

One frame = ``[root_pos(3), root_quat xyzw(4), root_vel(3), root_ang_vel(3), joint_q(J),
joint_qd(J), key_pos(3K)]`` in the world frame:

- the *root* is the body that carries the first joint (a free joint for humanoids; the
  slide-slide-hinge of planar walkers such as Walker2d); its position, orientation and
  world-frame velocities come from MuJoCo's own kinematics, so every root joint layout works;
- the *joints* are every other hinge (an angle; encoded later as a rotation about its axis) and
  slide joint (a displacement);
- the *key points* are the world positions of the named bodies and sites (feet, hands).

:class:`KinematicsProbe` computes frames from ``qpos``/``qvel`` alone (on its own ``MjData``:
``mj_kinematics`` + ``mj_comPos`` + ``mj_comVel``), so the reference motion (an ``.npz`` of
qpos/qvel) and the agent's states (read from the envs after each step, before any reset) go
through exactly the same code.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence, Union

import mujoco
import numpy as np

from runners.protocol import ProtocolError

ROOT_DIM = 13   # pos 3 + quat 4 + lin vel 3 + ang vel 3


@dataclass(frozen=True)
class FeatureSpec:
    root_body: int
    joint_names: tuple
    joint_qpos: np.ndarray     # (J,) qpos address of each non-root joint
    joint_qvel: np.ndarray     # (J,) dof address
    joint_axis: np.ndarray     # (J, 3) unit axes
    joint_hinge: tuple         # (J,) True: hinge (angle), False: slide (displacement)
    key_bodies: np.ndarray     # (K,) body ids
    key_sites: np.ndarray      # (S,) site ids
    nq: int
    nv: int

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def num_keys(self) -> int:
        return len(self.key_bodies) + len(self.key_sites)

    @property
    def frame_dim(self) -> int:
        return ROOT_DIM + 2 * self.num_joints + 3 * self.num_keys


def build_spec(model: Any, key_bodies: Sequence[str] = (), key_sites: Sequence[str] = (),
               source: Union[str, Path] = "run.json") -> FeatureSpec:
    """The feature layout of ``model``; unknown key names raise a ``ProtocolError`` that
    names ``params.disc_obs.key_bodies``/``key_sites`` and lists the model's names."""
    if model.njnt == 0:
        raise ProtocolError(source, "params.env_id", "the model has no joints: nothing for "
                            "a discriminator to compare")
    root = int(model.jnt_bodyid[0])
    names, qadr, vadr, axes, hinge = [], [], [], [], []
    for j in range(model.njnt):
        if int(model.jnt_bodyid[j]) == root:
            continue
        kind = int(model.jnt_type[j])
        if kind not in (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE)):
            raise ProtocolError(source, "params.env_id", "joint %r is a %s joint; the AMP "
                                "discriminator handles hinge and slide joints below the root"
                                % (model.joint(j).name, mujoco.mjtJoint(kind).name))
        names.append(model.joint(j).name)
        qadr.append(int(model.jnt_qposadr[j]))
        vadr.append(int(model.jnt_dofadr[j]))
        a = np.asarray(model.jnt_axis[j], dtype=np.float64)
        axes.append(a / max(np.linalg.norm(a), 1e-12))
        hinge.append(kind == int(mujoco.mjtJoint.mjJNT_HINGE))
    return FeatureSpec(
        root_body=root, joint_names=tuple(names),
        joint_qpos=np.asarray(qadr, dtype=np.int64), joint_qvel=np.asarray(vadr, dtype=np.int64),
        joint_axis=np.asarray(axes, dtype=np.float32).reshape(-1, 3), joint_hinge=tuple(hinge),
        key_bodies=_ids(model, mujoco.mjtObj.mjOBJ_BODY, model.nbody, key_bodies,
                        "params.disc_obs.key_bodies", source),
        key_sites=_ids(model, mujoco.mjtObj.mjOBJ_SITE, model.nsite, key_sites,
                       "params.disc_obs.key_sites", source),
        nq=int(model.nq), nv=int(model.nv))


def _ids(model: Any, kind: Any, count: int, names: Sequence[str], field: str,
         source: Union[str, Path]) -> np.ndarray:
    out = []
    for name in names:
        i = mujoco.mj_name2id(model, kind, name)
        if i < 0:
            known = [mujoco.mj_id2name(model, kind, k) for k in range(count)]
            raise ProtocolError(source, field, "%r is not in the model (it has: %s)"
                                % (name, ", ".join(n for n in known if n) or "none"))
        out.append(i)
    return np.asarray(out, dtype=np.int64)


class KinematicsProbe(object):
    """Frames from qpos/qvel, on a private ``MjData`` (the envs' own data is not touched)."""

    def __init__(self, model: Any, spec: FeatureSpec):
        self.model = model
        self.spec = spec
        self.data = mujoco.MjData(model)
        self._vel = np.zeros(6)

    def frames(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        qpos = np.asarray(qpos, dtype=np.float64).reshape(-1, self.spec.nq)
        qvel = np.asarray(qvel, dtype=np.float64).reshape(-1, self.spec.nv)
        if len(qpos) != len(qvel):
            raise ValueError("qpos has %d rows, qvel %d" % (len(qpos), len(qvel)))
        out = np.empty((len(qpos), self.spec.frame_dim), dtype=np.float32)
        for i in range(len(qpos)):
            out[i] = self.frame(qpos[i], qvel[i])
        return out

    def frame(self, qpos: np.ndarray, qvel: np.ndarray) -> np.ndarray:
        m, d, s = self.model, self.data, self.spec
        d.qpos[:] = qpos
        d.qvel[:] = qvel
        mujoco.mj_kinematics(m, d)
        mujoco.mj_comPos(m, d)
        mujoco.mj_comVel(m, d)
        mujoco.mj_objectVelocity(m, d, mujoco.mjtObj.mjOBJ_BODY, s.root_body, self._vel, 0)
        q = d.xquat[s.root_body]          # w x y z
        parts = [d.xpos[s.root_body], (q[1], q[2], q[3], q[0]), self._vel[3:6], self._vel[0:3],
                 qpos[s.joint_qpos], qvel[s.joint_qvel]]
        if len(s.key_bodies):
            parts.append(d.xpos[s.key_bodies].ravel())
        if len(s.key_sites):
            parts.append(d.site_xpos[s.key_sites].ravel())
        return np.concatenate([np.asarray(p, dtype=np.float64).ravel() for p in parts])


def clip_windows(frames: np.ndarray, starts: Sequence[int], history: int) -> np.ndarray:
    """``(T, H, F)`` windows of ``history`` consecutive frames ending at each frame; at the
    start of a clip (``starts``: the first frame of each clip) the clip's first frame fills
    the missing history, as an agent's history does after a reset."""
    frames = np.asarray(frames)
    t = len(frames)
    clip_start = np.zeros(t, dtype=np.int64)
    for s in sorted(set(int(x) for x in starts if 0 <= int(x) < t)):
        clip_start[s:] = s
    idx = np.arange(t)[:, None] - np.arange(history - 1, -1, -1)[None, :]
    idx = np.maximum(idx, clip_start[:, None])
    return frames[idx]


__all__ = ["FeatureSpec", "KinematicsProbe", "ROOT_DIM", "build_spec", "clip_windows"]
