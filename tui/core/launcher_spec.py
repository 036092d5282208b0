"""The ``launcher:`` block of a profile: where and how its runs start.

```yaml
launcher:
  kind: local            # local (default) | slurm
  gpus: 0                # GPUs each run needs: local = taken from the free ones (NVML) through
                         # the queue, with CUDA_VISIBLE_DEVICES; slurm = --gpus
  max_parallel: 0        # local: at most this many runs of one launch at once (0 = no limit)
  watch: auto            # auto | poll: poll files instead of inotify (Slurm runs always poll)
  slurm:
    partition: gpu
    time: "04:00:00"
    account: null
    qos: null
    cpus: null           # --cpus-per-task
    mem: null            # --mem, e.g. 16G
    extra: []            # more sbatch arguments, e.g. ["--constraint=a100"]
    signal_before: 120   # Slurm warns the job this many seconds before its time limit
    requeue: true        # after the warning: save, requeue, resume from the newest checkpoint
```

``pitwall launch PROFILE --slurm partition=gpu gpus=1 time=04:00:00`` overrides the ``slurm``
block (and sets ``kind: slurm``); ``--gpus N`` and ``--max-parallel N`` override the others.
"""
from __future__ import annotations

import difflib
import shlex
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

SIGNAL_BEFORE_DEFAULT = 120


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SlurmSpec(_Model):
    partition: str | None = None
    gpus: int | None = Field(None, ge=0)       # None: the launcher's gpus
    time: str | None = None                    # Slurm's format: MM, HH:MM:SS, D-HH:MM ...
    account: str | None = None
    qos: str | None = None
    cpus: int | None = Field(None, ge=1)
    mem: str | None = None
    extra: list[str] = Field(default_factory=list)
    signal_before: int = Field(SIGNAL_BEFORE_DEFAULT, ge=1)
    requeue: bool = True

    @field_validator("extra", mode="before")
    @classmethod
    def _split_extra(cls, v: Any) -> Any:
        return shlex.split(v) if isinstance(v, str) else v


class LauncherSpec(_Model):
    kind: Literal["local", "slurm"] = "local"
    gpus: int = Field(0, ge=0)
    max_parallel: int = Field(0, ge=0)
    watch: Literal["auto", "poll"] = "auto"
    slurm: SlurmSpec = Field(default_factory=SlurmSpec)


class LauncherOptionError(ValueError):
    pass


def apply_slurm_options(spec: LauncherSpec, items: list[str]) -> LauncherSpec:
    """``--slurm partition=gpu gpus=1 ...``: a copy of ``spec`` on Slurm with these set."""
    data = spec.slurm.model_dump()
    fields = list(SlurmSpec.model_fields)
    for item in items:
        if "=" not in item:
            raise LauncherOptionError("--slurm %r: expected key=value with a key among %s"
                                      % (item, ", ".join(fields)))
        key, value = item.split("=", 1)
        key = key.strip()
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=2, cutoff=0.6)
            hint = (" Did you mean %s?" % " or ".join(close)) if close else ""
            raise LauncherOptionError(
                "--slurm %r: %r is not a Slurm option (known: %s).%s Profile overrides go "
                "before --slurm." % (item, key, ", ".join(fields), hint))
        data[key] = None if value == "" and key != "extra" else value
    try:
        slurm = SlurmSpec.model_validate(data)
    except ValidationError as e:
        raise LauncherOptionError("--slurm: %s" % "; ".join(
            "%s: %s" % (".".join(str(x) for x in err["loc"]), err["msg"]) for err in e.errors()))
    return spec.model_copy(update={"kind": "slurm", "slurm": slurm})


def with_overrides(spec: LauncherSpec, gpus: int | None = None,
                   max_parallel: int | None = None,
                   slurm: list[str] | None = None) -> LauncherSpec:
    """The profile's launcher with the command line's ``--gpus``, ``--max-parallel`` and
    ``--slurm`` applied."""
    if gpus is not None:
        if gpus < 0:
            raise LauncherOptionError("--gpus must be >= 0, got %d" % gpus)
        spec = spec.model_copy(update={"gpus": gpus})
    if max_parallel is not None:
        if max_parallel < 0:
            raise LauncherOptionError("--max-parallel must be >= 0, got %d" % max_parallel)
        spec = spec.model_copy(update={"max_parallel": max_parallel})
    if slurm is not None:
        spec = apply_slurm_options(spec, slurm)
    return spec
