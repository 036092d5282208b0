"""The ManiSkill3 runner: PPO (torch) on ManiSkill tasks, CPU or GPU simulation.

``python -m runners.maniskill train|play|record|recorder`` (see ``__main__``; the command line,
the player and ``record`` are ``runners.sdk``'s). Modules: ``config`` (params from run.json),
``tasks`` (task ids, assets, sim backend, SAPIEN errors), ``envs`` (batched CPU/GPU envs, the
single env), ``observations``, ``agent`` (networks), ``ppo`` (rollout, GAE, update),
``checkpoint`` (payload, loading, the PPO baseline's files), ``train`` (the trainer loop),
``train_videos`` + ``recorder`` + ``video_maker`` (videos during training), ``playback`` +
``sapien_window`` (viewers).
"""
