"""The embedded default runner: PPO (torch) on gymnasium MuJoCo environments.

``python -m runners.mujoco train|play`` (see ``__main__``). Modules: ``config`` (params from
run.json), ``envs``, ``normalize``, ``policy``, ``ppo`` (buffer, GAE, update), ``checkpoint``
(payload, loading), ``train`` (the trainer loop), ``play`` (the viewer loop), ``evaluate``.
"""
