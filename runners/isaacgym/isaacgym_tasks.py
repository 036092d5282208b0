"""IsaacGymEnvs tasks as the environment backend (needs Isaac Gym Preview 4 and an NVIDIA GPU).

Everything IsaacGymEnvs' own ``train.py`` does to start rl_games is done here the same way, with
its public pieces: the Hydra config of the user's checkout (``cfg/config.yaml`` + ``task=<Task>``
→ ``cfg/task/<Task>.yaml`` and ``cfg/train/<Task>PPO.yaml``), ``isaacgymenvs.make`` as the env
creator registered as ``rlgpu``, ``RLGPUEnv`` (or ``ComplexObsRLGPUEnv`` for dict observations) as
the ``RLGPU`` vec env, ``RLGPUAlgoObserver`` for the task's episode statistics, the AMP builders,
and ``set_seed``. Only this module imports ``isaacgymenvs``; ``__main__`` has imported
``isaacgym`` before torch.

Not run on the machine this was written on (no NVIDIA GPU there): see docs/isaacgym.md.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

from .config import RunnerConfig
from .envs import Backend

ENV_NAME = "rlgpu"
VECENV = "RLGPU"


class IsaacGymBackend(Backend):
    name = "isaacgym"

    def __init__(self, cfg: RunnerConfig, source: Union[str, Path]):
        super().__init__(cfg, source)
        self.hydra_cfg = None  # type: Any
        self._seed = None  # type: Optional[int]

    # ------------------------------------------------------------------ config
    def compose(self, num_envs: int, headless: bool) -> Any:
        """IsaacGymEnvs' Hydra config for this run, as ``train.py task=... num_envs=...``."""
        import isaacgymenvs  # registers the OmegaConf resolvers its configs use
        from hydra import compose, initialize_config_dir
        from hydra.core.global_hydra import GlobalHydra

        c = self.cfg
        cfg_dir = os.path.join(os.path.dirname(os.path.abspath(isaacgymenvs.__file__)), "cfg")
        overrides = [
            "task=%s" % c.task,
            "num_envs=%d" % num_envs,
            "experiment=%s" % c.experiment,
            "seed=%d" % c.seed,
            "torch_deterministic=%s" % c.torch_deterministic,
            "sim_device=%s" % c.sim_device,
            "rl_device=%s" % c.rl_device,
            "graphics_device_id=%d" % c.graphics_device_id,
            "headless=%s" % headless,
            "multi_gpu=%s" % c.multi_gpu,
        ]
        if c.max_iterations > 0:
            overrides.append("max_iterations=%d" % c.max_iterations)
        overrides += list(c.hydra_overrides)
        hydra = GlobalHydra.instance()
        if hydra.is_initialized():
            hydra.clear()
        with initialize_config_dir(config_dir=cfg_dir, version_base="1.1"):
            return compose(config_name="config", overrides=overrides)

    def rl_games_base(self) -> Mapping[str, Any]:
        from isaacgymenvs.utils.reformat import omegaconf_to_dict

        if self.hydra_cfg is None:
            self.hydra_cfg = self.compose(self.cfg.num_envs, headless=True)
        params = omegaconf_to_dict(self.hydra_cfg.train)["params"]
        mlp = (params.get("network") or {}).get("mlp") or {}
        mult = mlp.get("model_size_multiplier", 1)
        if mult != 1 and "units" in mlp:  # as IsaacGymEnvs' preprocess_train_config
            mlp["units"] = [u * mult for u in mlp["units"]]
        return params

    def effective_seed(self, rank: int = 0) -> int:
        if self._seed is None:
            from isaacgymenvs.utils.utils import set_seed

            self._seed = set_seed(self.cfg.seed, torch_deterministic=self.cfg.torch_deterministic,
                                  rank=rank)
        return self._seed

    # ------------------------------------------------------------------ rl_games
    def register(self, num_envs: int, headless: bool) -> str:
        import isaacgymenvs
        from isaacgymenvs.tasks import isaacgym_task_map
        from isaacgymenvs.utils.rlgames_utils import ComplexObsRLGPUEnv, RLGPUEnv
        from rl_games.common import env_configurations, vecenv

        c = self.cfg
        if c.task not in isaacgym_task_map:
            from runners.protocol import ProtocolError

            raise ProtocolError(self.source, "params.task",
                                "%r is not an IsaacGymEnvs task (known: %s)"
                                % (c.task, ", ".join(sorted(isaacgym_task_map))))
        self.hydra_cfg = hcfg = self.compose(num_envs, headless)
        seed = self.effective_seed(int(os.getenv("RANK", "0")))
        force_render = bool(hcfg.get("force_render", True))

        def create_env(**kwargs: Any) -> Any:
            return isaacgymenvs.make(seed=seed, task=c.task, num_envs=num_envs,
                                     sim_device=c.sim_device, rl_device=c.rl_device,
                                     graphics_device_id=c.graphics_device_id, headless=headless,
                                     multi_gpu=c.multi_gpu, virtual_screen_capture=False,
                                     force_render=force_render, cfg=hcfg)

        env_configurations.register(ENV_NAME, {"vecenv_type": VECENV, "env_creator": create_env})
        task_cls = isaacgym_task_map[c.task]
        if getattr(task_cls, "dict_obs_cls", False):
            spec = _dict_obs_spec(hcfg)
            vecenv.register(VECENV, lambda config_name, num_actors, **kw:
                            ComplexObsRLGPUEnv(config_name, num_actors, spec, **kw))
        else:
            vecenv.register(VECENV, lambda config_name, num_actors, **kw:
                            RLGPUEnv(config_name, num_actors, **kw))
        return ENV_NAME

    def observers(self) -> List[Any]:
        from isaacgymenvs.utils.rlgames_utils import RLGPUAlgoObserver

        return [RLGPUAlgoObserver()]

    def setup_runner(self, runner: Any) -> None:
        """The AMP agent, player, model and network, as IsaacGymEnvs' ``build_runner``."""
        try:
            from isaacgymenvs.learning import (amp_continuous, amp_models, amp_network_builder,
                                               amp_players)
            from rl_games.algos_torch import model_builder
        except ImportError:
            return
        runner.algo_factory.register_builder(
            "amp_continuous", lambda **kwargs: amp_continuous.AMPAgent(**kwargs))
        runner.player_factory.register_builder(
            "amp_continuous", lambda **kwargs: amp_players.AMPPlayerContinuous(**kwargs))
        model_builder.register_model(
            "continuous_amp", lambda network, **kwargs: amp_models.ModelAMPContinuous(network))
        model_builder.register_network("amp", lambda **kwargs: amp_network_builder.AMPBuilder())

    def viewer_task(self, vec_env: Any) -> Any:
        task = getattr(vec_env, "env", vec_env)  # RLGPUEnv wraps the VecTask
        return task if getattr(task, "viewer", None) is not None else None

    def step_dt(self, vec_env: Any) -> float:
        task = getattr(vec_env, "env", vec_env)
        try:
            return float(task.dt) * int(getattr(task, "control_freq_inv", 1))
        except Exception:
            return 0.0


def _dict_obs_spec(hcfg: Any) -> Dict[str, Dict[str, Any]]:
    """The observation spec IsaacGymEnvs' ``train.py`` builds for dict-observation tasks."""
    actor = hcfg.train.params.network
    spec = {"obs": {"names": list(actor.inputs.keys()),
                    "concat": not actor.name == "complex_net",
                    "space_name": "observation_space"}}  # type: Dict[str, Dict[str, Any]]
    if "central_value_config" in hcfg.train.params.config:
        critic = hcfg.train.params.config.central_value_config.network
        spec["states"] = {"names": list(critic.inputs.keys()),
                          "concat": not critic.name == "complex_net",
                          "space_name": "state_space"}
    return spec
