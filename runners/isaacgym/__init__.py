"""Pitwall's IsaacGym runner: rl_games PPO with train/play separation.

::

    python -m runners.isaacgym train --run-dir DIR [--role train] [--resume CKPT]
    python -m runners.isaacgym play  --run-dir DIR --viewer-id ID [--display none]

Parameters come from ``DIR/run.json`` (``configs/isaacgym/*.yaml``). The environment is an
IsaacGymEnvs task when ``isaacgym``/``isaacgymenvs`` import (Isaac Gym Preview 4, an NVIDIA GPU,
Python <= 3.8), or a gymnasium MuJoCo env otherwise, so the whole rl_games path (observer-driven
checkpoints, hot-swapping player) also runs on a CPU box. See ``docs/isaacgym.md``.

Everything here keeps Python 3.8 syntax and never imports ``tui``. ``isaacgym`` must be imported
before ``torch``: only ``__main__`` decides that, before anything imports torch.
"""
