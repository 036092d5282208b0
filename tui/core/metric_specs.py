"""How a profile declares the metric sources of its runs (the ``metrics:`` list).

Paths are relative to the run directory (or absolute); ``{params.x}`` templates are allowed.
What each kind reads, and the shipped line-pattern presets, are in ``docs/metrics.md``; the
readers live in ``tui.core.metrics``.
"""
from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, \
    model_validator


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JsonlSource(_Spec):
    """Our ``metrics.jsonl`` (see runners.protocol.metrics)."""
    kind: Literal["jsonl"]
    path: str = "metrics.jsonl"


class TensorBoardSource(_Spec):
    """Every event file below ``path`` (``tb/``, rl_games' ``summaries/`` ...).

    Event files in a subdirectory give tags prefixed with that subdirectory
    (``<sub>/<tag>``), unless ``recursive`` is false, which reads ``path`` itself only.
    """
    kind: Literal["tensorboard"]
    path: str = "tb"
    recursive: bool = True


class CsvSource(_Spec):
    """A CSV file with a header line; every numeric column becomes a tag."""
    kind: Literal["csv"]
    path: str
    step_column: str | None = None   # default: the first of step, global_step, epoch, iteration
    time_column: str | None = None
    prefix: str = ""                 # tag = prefix + column name
    delimiter: str = Field(",", min_length=1, max_length=1)


class LinePattern(_Spec):
    regex: str                       # named groups are metrics; one of them may be the step
    step_group: str | None = None    # the group that holds the step
    tags: dict[str, str] = Field(default_factory=dict)  # group -> tag (default: prefix + group)
    prefix: str = ""
    # Optional: a regex with groups ``key`` and ``value``, applied to the rest of the line
    # after ``regex`` matched; every pair becomes a metric (``Step 5: loss=0.1, q=2`` style).
    kv: str | None = None
    normalize_keys: bool = False     # kv keys: lower case, runs of other characters -> "_"
    time_group: str | None = None    # a group holding Unix time in seconds

    @model_validator(mode="after")
    def _check_regexes(self) -> "LinePattern":
        try:
            rx = re.compile(self.regex)
        except re.error as e:
            raise ValueError("regex: not a valid regex (%s)" % e)
        groups = set(rx.groupindex)
        for name, what in ((self.step_group, "step_group"), (self.time_group, "time_group")):
            if name is not None and name not in groups:
                raise ValueError("%s %r is not a named group of regex (groups: %s)"
                                 % (what, name, ", ".join(sorted(groups)) or "none"))
        unknown = sorted(set(self.tags) - groups)
        if unknown:
            raise ValueError("tags: %s are not named groups of regex (groups: %s)"
                             % (", ".join(unknown), ", ".join(sorted(groups)) or "none"))
        if self.kv is not None:
            try:
                kv = re.compile(self.kv)
            except re.error as e:
                raise ValueError("kv: not a valid regex (%s)" % e)
            if not {"key", "value"} <= set(kv.groupindex):
                raise ValueError("kv: the regex needs the named groups 'key' and 'value'")
        return self


class StdoutSource(_Spec):
    """Lines of a role's log matched by regexes (a shipped ``preset`` or the profile's own)."""
    kind: Literal["stdout"]
    role: str = "train"
    path: str | None = None          # default: logs/<role>.log
    preset: str | None = None        # e.g. rl_games, skeleton_steering, hybrid_sac, maniskill
    patterns: list[LinePattern] = Field(default_factory=list)

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, v: str | None) -> str | None:
        if v is not None:
            from runners.adapters.log_presets import presets

            known = presets()
            if v not in known:
                raise ValueError("unknown preset %r (known: %s)" % (v, ", ".join(sorted(known))))
        return v


class WandbSource(_Spec):
    """The ``.wandb`` files W&B writes for its runs (``wandb/run-*/run-*.wandb``, online or
    offline), below ``path``: scalars from ``wandb.log``, the config as hyperparameters."""
    kind: Literal["wandb"]
    path: str = "wandb"


MetricSourceSpec = Annotated[
    Union[JsonlSource, TensorBoardSource, CsvSource, StdoutSource, WandbSource],
    Field(discriminator="kind"),
]

_SPEC_LIST = TypeAdapter(list[MetricSourceSpec])


def parse_metric_specs(obj: Any) -> list[Any]:
    """Validate a ``metrics:`` list (e.g. from run.json); raises pydantic's ValidationError."""
    return _SPEC_LIST.validate_python(obj)
