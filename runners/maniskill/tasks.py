"""ManiSkill tasks before an env exists: is the id registered, are its assets here, which sim
backend runs it, and what a SAPIEN start-up failure means in plain words.

``mani_skill`` is imported here lazily (it takes seconds and needs SAPIEN); nothing in this
module starts a simulator.
"""
from __future__ import annotations

import difflib
import warnings
from pathlib import Path
from typing import Any, List, Optional, Union

from runners.protocol import ProtocolError

VULKAN_HINT = ("SAPIEN (ManiSkill's simulator) needs a Vulkan device even for state "
               "observations. Without an NVIDIA GPU install Mesa >= 25's lavapipe: run "
               "scripts/vulkan_setup.sh from Pitwall's checkout (as root it installs it; "
               "otherwise it prints the apt commands)")
_VULKAN_MARKERS = ("ErrorIncompatibleDriver", "supported physical device", "vkCreateInstance",
                   "Vulkan", "vulkan")


def import_maniskill() -> Any:
    """Import ``mani_skill.envs`` (registers the tasks) quietly; returns the registry."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mani_skill.envs  # noqa: F401  (registers every task)
        from mani_skill.utils.registration import REGISTERED_ENVS
    return REGISTERED_ENVS


def missing_assets(env_id: str) -> List[str]:
    """Asset ids a task needs that are not downloaded (ManiSkill would prompt for them)."""
    registry = import_maniskill()
    from mani_skill.utils import assets

    out = []  # type: List[str]
    for asset_id in registry[env_id].asset_download_ids or []:
        if asset_id in assets.DATA_GROUPS:
            ids = assets.expand_data_group_into_individual_data_source_ids(asset_id)
        else:
            ids = [asset_id]
        out += [i for i in ids if not assets.is_data_source_downloaded(i)]
    return out


def check_env_id(env_id: str, source: Union[str, Path]) -> None:
    """Fail with a message naming run.json when ``env_id`` is no ManiSkill task or needs
    assets that are not here (a training cannot answer ManiSkill's download prompt)."""
    registry = import_maniskill()
    if env_id not in registry:
        close = difflib.get_close_matches(env_id, list(registry), n=3, cutoff=0.6)
        hint = (" (did you mean %s?)" % " or ".join(close)) if close else ""
        raise ProtocolError(source, "params.env_id",
                            "%r is not a registered ManiSkill task%s" % (env_id, hint))
    missing = missing_assets(env_id)
    if missing:
        raise ProtocolError(source, "params.env_id",
                            "%s needs assets that are not downloaded (%s): run `python -m "
                            "mani_skill.utils.download_asset %s` once, then launch again"
                            % (env_id, ", ".join(missing[:5]), missing[0]))


def max_episode_steps(env_id: str) -> Optional[int]:
    spec = import_maniskill()[env_id]
    return int(spec.max_episode_steps) if spec.max_episode_steps else None


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def choose_sim_backend(requested: str, source: Union[str, Path]) -> str:
    """``auto`` = ``physx_cuda`` when this torch sees a GPU, else ``physx_cpu``."""
    if requested == "auto":
        return "physx_cuda" if cuda_available() else "physx_cpu"
    if requested == "physx_cuda" and not cuda_available():
        import torch

        raise ProtocolError(source, "params.sim_backend",
                            "is 'physx_cuda' but this torch (%s) sees no CUDA device; use "
                            "'auto' or 'physx_cpu'" % torch.__version__)
    return requested


def explain_env_error(env_id: str, e: BaseException) -> str:
    """What an exception from creating a ManiSkill env means, in plain words."""
    text = str(e).strip()
    first = text.splitlines()[0][:300] if text else type(e).__name__
    if isinstance(e, EOFError):
        return ("%s asked to download assets and could not read an answer (no terminal): run "
                "`python -m mani_skill.utils.download_asset %s` once, then start again"
                % (env_id, env_id))
    if any(m in text for m in _VULKAN_MARKERS) or type(e).__name__.startswith("Error"):
        return "cannot start SAPIEN for %s (%s). %s" % (env_id, first, VULKAN_HINT)
    return "cannot create %s: %s: %s" % (env_id, type(e).__name__, first)


class EnvStartError(RuntimeError):
    """A ManiSkill env could not be created; the message says why and what to do."""
