"""How a profile declares the metric sources of its runs (the ``metrics:`` list).

Paths are relative to the run directory (or absolute); ``{params.x}`` templates are allowed.
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JsonlSource(_Spec):
    """Our ``metrics.jsonl`` (see runners.protocol.metrics)."""
    kind: Literal["jsonl"]
    path: str = "metrics.jsonl"


class TensorBoardSource(_Spec):
    """Every event file below ``path`` (``tb/``, rl_games' ``summaries/`` ...)."""
    kind: Literal["tensorboard"]
    path: str = "tb"


class CsvSource(_Spec):
    """A CSV file with a header line; every numeric column becomes a tag."""
    kind: Literal["csv"]
    path: str
    step_column: str | None = None   # default: the first of step, global_step, epoch, iteration
    time_column: str | None = None
    prefix: str = ""                 # tag = prefix + column name


class LinePattern(_Spec):
    regex: str                       # named groups are metrics; one of them may be the step
    step_group: str | None = None    # the group that holds the step
    tags: dict[str, str] = Field(default_factory=dict)  # group -> tag (default: prefix + group)
    prefix: str = ""


class StdoutSource(_Spec):
    """Lines of a role's log matched by regexes (a shipped ``preset`` or the profile's own)."""
    kind: Literal["stdout"]
    role: str = "train"
    path: str | None = None          # default: logs/<role>.log
    preset: str | None = None        # e.g. rl_games, skeleton_steering, hybrid_sac, maniskill
    patterns: list[LinePattern] = Field(default_factory=list)


MetricSourceSpec = Annotated[
    Union[JsonlSource, TensorBoardSource, CsvSource, StdoutSource],
    Field(discriminator="kind"),
]
