"""Discriminator observations from windows of kinematic frames (JAX, jitted, batched).

A window holds ``history_len`` frames (``disc_features``), the newest last. As in AMP and the
seed, everything is expressed relative to the newest frame: root positions relative to its root
and rotated into its heading frame (yaw only, unless ``global_obs``), the root height kept
absolute (``root_height_obs``), orientations as tangent + normal vectors (6 numbers, no
quaternion sign ambiguity), hinge angles as the rotation they make about their axis (also 6
numbers), slide joints and joint velocities as they are, key points relative to their frame's
root, velocities rotated into the heading frame.
"""
from __future__ import annotations

from typing import Tuple

import jax
import jax.numpy as jnp
import numpy as np

from .disc_features import ROOT_DIM, FeatureSpec


def quat_mul(q: jnp.ndarray, r: jnp.ndarray) -> jnp.ndarray:
    """Hamilton product of xyzw quaternions."""
    qv, qw = q[..., :3], q[..., 3:]
    rv, rw = r[..., :3], r[..., 3:]
    v = qw * rv + rw * qv + jnp.cross(qv, rv)
    w = qw * rw - jnp.sum(qv * rv, axis=-1, keepdims=True)
    return jnp.concatenate([v, w], axis=-1)


def quat_rotate(q: jnp.ndarray, v: jnp.ndarray) -> jnp.ndarray:
    qv, qw = q[..., :3], q[..., 3:]
    t = 2.0 * jnp.cross(qv, v)
    return v + qw * t + jnp.cross(qv, t)


def axis_angle_quat(axis: jnp.ndarray, angle: jnp.ndarray) -> jnp.ndarray:
    half = 0.5 * angle[..., None]
    return jnp.concatenate([axis * jnp.sin(half), jnp.cos(half)], axis=-1)


def tan_norm(q: jnp.ndarray) -> jnp.ndarray:
    """The rotated x axis and z axis: a continuous 6-number orientation."""
    ex = jnp.broadcast_to(jnp.array([1.0, 0.0, 0.0]), q.shape[:-1] + (3,))
    ez = jnp.broadcast_to(jnp.array([0.0, 0.0, 1.0]), q.shape[:-1] + (3,))
    return jnp.concatenate([quat_rotate(q, ex), quat_rotate(q, ez)], axis=-1)


def heading_inverse(q: jnp.ndarray) -> jnp.ndarray:
    """The yaw rotation that undoes ``q``'s heading (about world z)."""
    ex = jnp.broadcast_to(jnp.array([1.0, 0.0, 0.0]), q.shape[:-1] + (3,))
    d = quat_rotate(q, ex)
    yaw = jnp.arctan2(d[..., 1], d[..., 0])
    ez = jnp.broadcast_to(jnp.array([0.0, 0.0, 1.0]), q.shape[:-1] + (3,))
    return axis_angle_quat(ez, -yaw)


def split_frames(w: jnp.ndarray, spec: FeatureSpec) -> Tuple[jnp.ndarray, ...]:
    j, k = spec.num_joints, spec.num_keys
    pos, rot, vel, ang = w[..., 0:3], w[..., 3:7], w[..., 7:10], w[..., 10:13]
    jq = w[..., ROOT_DIM:ROOT_DIM + j]
    jqd = w[..., ROOT_DIM + j:ROOT_DIM + 2 * j]
    keys = w[..., ROOT_DIM + 2 * j:].reshape(w.shape[:-1] + (k, 3))
    return pos, rot, vel, ang, jq, jqd, keys


def disc_obs_dim(spec: FeatureSpec, history_len: int, root_height_obs: bool = True) -> int:
    hinge = sum(1 for h in spec.joint_hinge if h)
    per = ((3 if root_height_obs else 2) + 6 + 6 * hinge + (spec.num_joints - hinge)
           + 3 * spec.num_keys + 6 + spec.num_joints)
    return per * history_len


def make_disc_obs_fn(spec: FeatureSpec, global_obs: bool = False,
                     root_height_obs: bool = True):
    """A jitted ``windows (B, H, F) -> disc obs (B, D)``."""
    hinge = np.asarray(spec.joint_hinge, dtype=bool)
    axes = jnp.asarray(spec.joint_axis[hinge]) if hinge.any() else jnp.zeros((0, 3))

    def fn(w: jnp.ndarray) -> jnp.ndarray:
        w = w.astype(jnp.float32)
        pos, rot, vel, ang, jq, jqd, keys = split_frames(w, spec)
        b, h = w.shape[0], w.shape[1]
        rel = pos - pos[:, -1:, :]
        keys = keys - pos[:, :, None, :]
        if global_obs:
            root_rot = rot
        else:
            inv = jnp.broadcast_to(heading_inverse(rot[:, -1, :])[:, None, :], (b, h, 4))
            rel = quat_rotate(inv, rel)
            root_rot = quat_mul(inv, rot)
            vel = quat_rotate(inv, vel)
            ang = quat_rotate(inv, ang)
            keys = quat_rotate(jnp.broadcast_to(inv[:, :, None, :], keys.shape[:-1] + (4,)),
                               keys)
        rel = rel.at[..., 2].set(pos[..., 2]) if root_height_obs else rel[..., :2]
        parts = [rel, tan_norm(root_rot)]
        if hinge.any():
            jrot = axis_angle_quat(axes, jq[..., hinge])
            parts.append(tan_norm(jrot).reshape((b, h, -1)))
        if (~hinge).any():
            parts.append(jq[..., ~hinge])
        if spec.num_keys:
            parts.append(keys.reshape((b, h, -1)))
        parts += [vel, ang, jqd]
        return jnp.concatenate(parts, axis=-1).reshape((b, -1))

    return jax.jit(fn)


__all__ = ["axis_angle_quat", "disc_obs_dim", "heading_inverse", "make_disc_obs_fn",
           "quat_mul", "quat_rotate", "tan_norm"]
