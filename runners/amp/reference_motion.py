"""A reference motion made here, for walkers that have no motion-capture data: a scripted gait.

``python -m runners.amp reference --env-id Walker2d-v5 --out walker_gait.npz`` writes a few
clips of a kinematic walk (joint angles as smooth periodic functions of a gait phase, the root
height set so the lower foot touches the ground, the root moved forward so the stance foot does
not slide, velocities by finite differences of the poses). It is a *style* to imitate, not a
physically simulated motion: AMP's discriminator only needs examples of what walking should
look like.

The file has LocoMuJoCo's ``Trajectory`` npz layout (``qpos``, ``qvel``, ``split_points``,
``frequency``, ``joint_names``, ``njnt``, ``jnt_type``), so the same file is a
``custom_traj_path`` for LocoMuJoCo (``Trajectory.load``) and for this runner.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence, Tuple, Union

import mujoco
import numpy as np

from runners.protocol.atomic import atomic_write_with

Pose = Dict[str, float]   # joint name -> angle (rad) or displacement


def _walker_pose(phase: float) -> Tuple[Pose, float]:
    """Walker2d / Hopper-like legs: hips can only swing back relative to the torso, so the
    torso leans back a little and the legs sweep around the vertical."""
    lean = -0.3                                   # rooty (negative: leaning back)
    pose = {}   # type: Pose
    for side, shift in (("", 0.0), ("_left", math.pi)):
        p = phase + shift
        swing_back = 0.28 * math.sin(p)            # world angle of the thigh, + = backwards
        thigh = -(swing_back - lean)              # joint axis is -y: negative = backwards
        knee = -1.0 * max(0.0, -math.cos(p)) ** 1.5 - 0.05
        foot = lean - thigh - knee                # keep the sole level
        pose["thigh%s_joint" % side] = min(0.0, thigh)
        pose["leg%s_joint" % side] = knee
        pose["foot%s_joint" % side] = float(np.clip(foot, -0.78, 0.78))
    pose["rooty"] = lean
    return pose, lean


def _humanoid_pose(phase: float) -> Tuple[Pose, float]:
    pose = {"abdomen_y": 0.05}   # type: Pose
    for side, shift, arm_sign in (("right", 0.0, 1.0), ("left", math.pi, -1.0)):
        p = phase + shift
        pose["%s_hip_y" % side] = 0.32 * math.sin(p) - 0.05      # + = backwards
        pose["%s_knee" % side] = -0.05 - 0.9 * max(0.0, -math.cos(p)) ** 1.5
        pose["%s_shoulder2" % side] = 0.25 * math.sin(p) * arm_sign
        pose["%s_elbow" % side] = -0.6
    return pose, 0.0


GAITS = {"Walker2d": _walker_pose, "Humanoid": _humanoid_pose}   # type: Dict[str, Callable]


def gait_for(env_id: str) -> Callable[[float], Tuple[Pose, float]]:
    name = env_id.split("-")[0]
    if name not in GAITS:
        raise ValueError("no scripted gait for %r (have: %s); pass a reference motion "
                         "(custom_traj_path) instead" % (env_id, ", ".join(
                             "%s-v5" % g for g in sorted(GAITS))))
    return GAITS[name]


class _Kin(object):
    def __init__(self, model: Any):
        self.m = model
        self.d = mujoco.MjData(model)
        self.feet = [g for g in range(model.ngeom)
                     if "foot" in (model.geom(g).name or "") and model.geom_bodyid[g] > 0]
        if not self.feet:
            raise ValueError("the model has no geom named *foot*: cannot place it on the ground")
        self.root = int(model.jnt_bodyid[0])
        self.free = int(model.jnt_type[0]) == int(mujoco.mjtJoint.mjJNT_FREE)

    def set_pose(self, pose: Pose, pitch: float) -> None:
        m, d = self.m, self.d
        d.qpos[:] = m.qpos0
        if self.free:
            d.qpos[3:7] = (math.cos(pitch / 2), 0.0, math.sin(pitch / 2), 0.0)
        for name, value in pose.items():
            j = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, name)
            if j < 0:
                raise ValueError("joint %r is not in the model" % name)
            d.qpos[m.jnt_qposadr[j]] = value
        mujoco.mj_kinematics(m, d)

    def foot_bottoms(self) -> List[Tuple[float, float]]:
        """(lowest z, x there) of each foot geom (capsule, sphere or box bottom)."""
        m, d = self.m, self.d
        out = []
        for g in self.feet:
            c, rot, size = d.geom_xpos[g], d.geom_xmat[g].reshape(3, 3), m.geom_size[g]
            kind = int(m.geom_type[g])
            if kind == int(mujoco.mjtGeom.mjGEOM_CAPSULE):
                ends = [c + rot[:, 2] * size[1], c - rot[:, 2] * size[1]]
                low = min(ends, key=lambda p: p[2])
                out.append((float(low[2] - size[0]), float(low[0])))
            else:
                out.append((float(c[2] - size[0]), float(c[0])))
        return out


def root_translation_index(model: Any) -> Tuple[int, int]:
    """qpos addresses of the root's x and z translation (free joint or slide joints)."""
    if int(model.jnt_type[0]) == int(mujoco.mjtJoint.mjJNT_FREE):
        return 0, 2
    ix = iz = -1
    for j in range(model.njnt):
        if int(model.jnt_type[j]) == int(mujoco.mjtJoint.mjJNT_SLIDE) and \
                int(model.jnt_bodyid[j]) == int(model.jnt_bodyid[0]):
            axis = np.asarray(model.jnt_axis[j])
            if abs(axis[0]) > 0.9:
                ix = int(model.jnt_qposadr[j])
            elif abs(axis[2]) > 0.9:
                iz = int(model.jnt_qposadr[j])
    if ix < 0 or iz < 0:
        raise ValueError("the root has no x/z translation to move it along the ground")
    return ix, iz


def scripted_clip(model: Any, gait: Callable[[float], Tuple[Pose, float]], dt: float,
                  seconds: float, period: float) -> Tuple[np.ndarray, np.ndarray]:
    """One clip: (qpos (T, nq), qvel (T, nv)) at ``1/dt`` frames a second."""
    kin = _Kin(model)
    ix, iz = root_translation_index(model)
    n = max(3, int(round(seconds / dt)))
    qpos = np.zeros((n, model.nq))
    x = 0.0
    prev = None  # type: Any   # (stance foot, its x relative to the root) last frame
    for t in range(n):
        pose, pitch = gait(2.0 * math.pi * t * dt / period)
        kin.set_pose(pose, pitch)                  # root at its rest x (0)
        bottoms = kin.foot_bottoms()
        k = min(range(len(bottoms)), key=lambda i: bottoms[i][0])
        low_z, rel_x = bottoms[k]
        if prev is not None and prev[0] == k:
            x += prev[1] - rel_x                   # the stance foot stays where it is
        prev = (k, rel_x)
        q = kin.d.qpos.copy()
        q[ix] += x
        q[iz] -= low_z                             # lowest foot point on the ground
        qpos[t] = q
    qvel = np.zeros((n, model.nv))
    for t in range(n - 1):
        mujoco.mj_differentiatePos(model, qvel[t], dt, qpos[t], qpos[t + 1])
    qvel[-1] = qvel[-2]
    return qpos, qvel


def make_reference(env_id: str, seconds: float = 8.0,
                   periods: Sequence[float] = (0.9, 1.0, 1.1)) -> Dict[str, Any]:
    """The arrays of a reference motion for ``env_id`` (a gymnasium MuJoCo walker)."""
    import gymnasium

    env = gymnasium.make(env_id)
    try:
        u = env.unwrapped
        model, dt = u.model, float(u.dt)
        gait = gait_for(env_id)
        clips = [scripted_clip(model, gait, dt, seconds, p) for p in periods]
    finally:
        env.close()
    qpos = np.concatenate([c[0] for c in clips]).astype(np.float32)
    qvel = np.concatenate([c[1] for c in clips]).astype(np.float32)
    splits = np.cumsum([0] + [len(c[0]) for c in clips]).astype(np.int64)
    return {"qpos": qpos, "qvel": qvel, "split_points": splits,
            "frequency": np.asarray(1.0 / dt),
            "joint_names": np.asarray([model.joint(j).name for j in range(model.njnt)]),
            "njnt": np.asarray(model.njnt), "jnt_type": np.asarray(model.jnt_type, np.int64)}


def write_reference(path: Union[str, Path], arrays: Dict[str, Any]) -> Path:
    path = Path(path)
    atomic_write_with(path, lambda f: np.savez(f, **arrays))
    return path


def main(argv: Any = None) -> int:
    """``python -m runners.amp.reference_motion --env-id Walker2d-v5 --out gait.npz``"""
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="python -m runners.amp.reference_motion",
                                description="Write a scripted-gait reference motion (.npz in "
                                            "LocoMuJoCo's Trajectory layout).")
    p.add_argument("--env-id", required=True,
                   help="a gymnasium walker: %s" % ", ".join("%s-v5" % g for g in sorted(GAITS)))
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--seconds", type=float, default=8.0, help="length of each of the 3 clips")
    args = p.parse_args(argv)
    try:
        arrays = make_reference(args.env_id, args.seconds)
    except ValueError as e:
        print("error: %s" % e, file=sys.stderr, flush=True)
        return 2
    path = write_reference(args.out, arrays)
    print("wrote %s: %d frames of %s at %.1f Hz in %d clips (scripted gait)"
          % (path, len(arrays["qpos"]), args.env_id, float(arrays["frequency"]),
             len(arrays["split_points"]) - 1), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["GAITS", "gait_for", "main", "make_reference", "scripted_clip", "write_reference"]
