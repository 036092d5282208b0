"""Pitwall's SERL-style runner: asynchronous SAC with a learner and an actor process.

::

    python -m runners.serl train --run-dir DIR --role learner   # trains, serves weights
    python -m runners.serl train --run-dir DIR --role actor     # steps the env, pushes data
    python -m runners.serl play|record ...                      # the runner toolkit's viewer
    python -m runners.serl demos --run-dir DIR --checkpoint F --episodes N --out demos.pkl

Modules: ``config`` (params from run.json), ``wire`` (message frames: JSON header + numpy
buffers, versioned), ``transport`` (pyzmq sockets), ``envs`` / ``dm_control_env`` /
``obs_layout`` / ``env_spec`` (environments), ``sac`` (networks and updates), ``replay``
(buffers, hybrid 50/50 sampling), ``learner``, ``actor``, ``episode_stats``, ``timers``,
``checkpoint``, ``policy``, ``playback`` (the toolkit's hooks), ``demos``, ``wandb_log``.
See ``docs/serl.md``.
"""
