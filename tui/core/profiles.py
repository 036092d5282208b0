"""Profiles: the YAML files in ``configs/`` that say what a run starts and how.

A profile names a backend, its parameters (overridable as ``key=value``), its processes (roles,
started in order, each with an optional readiness condition and a stop policy), how to start a
viewer, where metrics and checkpoints appear. Validation errors name the file, the field and the
allowed values. See ``docs/profiles.md``.
"""
from __future__ import annotations

import dataclasses
import difflib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, \
    model_validator

from runners.protocol.adapter_specs import OutputDiscoverySpec, RelaySpec
from runners.protocol.checkpoint_layout import CheckpointSpec
from runners.protocol.foreign_videos import VideoDirSpec
from runners.protocol.rundir import check_experiment_name, check_role_name
from runners.protocol.runner_args import check_module_name, check_runner_name, runner_module

from .launcher_spec import LauncherSpec
from .metric_specs import JsonlSource, MetricSourceSpec
from .overrides import OverrideError, apply_overrides, load_yaml

PROFILE_SUFFIXES = (".yaml", ".yml")
BYO_MODULE = "runners.sdk.byo"


class ProfileError(ValueError):
    """A profile that cannot be used; ``str()`` names the file and the field."""

    def __init__(self, path: Path | str | None, message: str):
        self.path = str(path) if path else None
        self.message = message
        super().__init__(("%s: %s" % (self.path, message)) if self.path else message)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StopSpec(_Model):
    sigint_grace: float = Field(30.0, ge=0)
    sigterm_grace: float = Field(10.0, ge=0)


class ReadySpec(_Model):
    """Exactly one condition: a log line (regex), a file, a TCP port on localhost, or a delay."""
    log: str | None = None
    file: str | None = None
    port: int | str | None = None
    delay: float | None = Field(None, ge=0)
    timeout: float = Field(120.0, gt=0)

    @model_validator(mode="after")
    def _exactly_one(self) -> "ReadySpec":
        given = [k for k in ("log", "file", "port", "delay") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of log, file, port, delay (found %s)"
                             % (", ".join(given) or "none"))
        if self.log is not None:
            try:
                re.compile(self.log)
            except re.error as e:
                raise ValueError("log: not a valid regex (%s)" % e)
        return self


class _Command(_Model):
    runner: str | None = None        # runners.<runner> (python -m runners.<runner> <mode> ...)
    runner_module: str | None = None  # a backend of the user's own: python -m <module> <mode>
    python: str | None = None        # the interpreter for a runner (default: Pitwall's)
    argv: list[str] | None = None    # an external command, templated
    args: list[str] = Field(default_factory=list)
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    stop: StopSpec = Field(default_factory=StopSpec)

    @field_validator("runner")
    @classmethod
    def _runner_name(cls, v: str | None) -> str | None:
        if v is not None:
            check_runner_name(v)
        return v

    @field_validator("runner_module")
    @classmethod
    def _module_name(cls, v: str | None) -> str | None:
        if v is not None:
            check_module_name(v)
        return v

    @model_validator(mode="after")
    def _one_command(self) -> "_Command":
        kinds = ("runner", "runner_module", "argv", "functions")
        given = [k for k in kinds if getattr(self, k, None) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of runner (a Pitwall runner), runner_module (a "
                             "backend module of your own)%s or argv (a command); found %s"
                             % (", functions (your own env/policy functions)"
                                if "functions" in type(self).model_fields else "",
                                ", ".join(given) or "none"))
        if self.argv is not None and not self.argv:
            raise ValueError("argv must not be empty")
        if self.python is not None and self.argv is not None:
            raise ValueError("python applies to runner/runner_module; put the interpreter in "
                             "argv instead")
        return self

    @property
    def module(self) -> str | None:
        """The module ``python -m`` runs, or None for an external command."""
        if self.argv is not None:
            return None
        if getattr(self, "functions", None) is not None:
            return BYO_MODULE
        return runner_module(self.runner, self.runner_module)


class RoleSpec(_Command):
    role: str = "train"
    mode: Literal["train", "play"] = "train"
    kind: Literal["train", "aux"] = "train"  # aux: a helper process (e.g. a relay)
    ready: ReadySpec | None = None
    resume_args: list[str] | None = None   # default for runners: ["--resume", "{checkpoint}"]

    @field_validator("role")
    @classmethod
    def _role_name(cls, v: str) -> str:
        check_role_name(v)
        return v


class PlayFunctions(_Model):
    """The user's own functions for the toolkit's player (``runners.sdk.byo``)."""
    make_env: str                    # module:function (params) -> env
    load: str                        # module:function (path, params) -> policy | (policy, step)
    act: str                         # module:function (policy, obs) -> action
    frame: str | None = None         # module:function (env) -> H x W x 3 uint8
    path: list[str] = Field(default_factory=list)   # import them from here (templated)
    label: str | None = None         # shown in the overlay (default: make_env)

    @field_validator("make_env", "load", "act", "frame")
    @classmethod
    def _ref(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*", v):
            raise ValueError("expected 'package.module:function', found %r" % v)
        return v


class PlaySpec(_Command):
    # a headless viewer (of a Pitwall runner) that nobody watched for this long ends (0: never)
    idle_exit: float = Field(900.0, ge=0)
    functions: PlayFunctions | None = None   # the toolkit's player over your own functions


class Profile(_Model):
    description: str = ""
    backend: str
    experiment: str
    extends: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    choices: dict[str, list[Any]] = Field(default_factory=dict)
    processes: list[RoleSpec] = Field(min_length=1)
    play: PlaySpec | None = None
    metrics: list[MetricSourceSpec] = Field(
        default_factory=lambda: [JsonlSource(kind="jsonl", path="metrics.jsonl")])
    headline: str | None = None       # the tag shown in the runs list
    checkpoints: CheckpointSpec = Field(default_factory=CheckpointSpec)
    output_discovery: OutputDiscoverySpec | None = None   # the trainer picks its output dir
    relay: RelaySpec = Field(default_factory=RelaySpec)    # auto mode for a foreign viewer
    launcher: LauncherSpec = Field(default_factory=LauncherSpec)   # local queue / Slurm
    videos: list[VideoDirSpec] = Field(default_factory=list)   # a foreign trainer's mp4s

    @property
    def needs_relay(self) -> bool:
        """A viewer of the user's own, or a trainer that picks its own output directory: the
        launch adds the relay role (runners.adapters.relay)."""
        return (self.play is not None and self.play.module is None and self.relay.enabled) \
            or self.output_discovery is not None

    @model_validator(mode="after")
    def _unique_roles(self) -> "Profile":
        roles = [p.role for p in self.processes]
        dup = sorted({r for r in roles if roles.count(r) > 1})
        if dup:
            raise ValueError("processes: duplicate role names %s" % dup)
        return self


# --------------------------------------------------------------------------- discovery

def profile_search_dirs(extra: list[Path] | None = None) -> list[Path]:
    """``$PITWALL_CONFIGS`` (":"-separated), ``./configs``, Pitwall's own ``configs/``,
    ``~/.config/pitwall/configs`` — existing ones, first wins on a name clash."""
    dirs: list[Path] = list(extra or [])
    env = os.environ.get("PITWALL_CONFIGS")
    if env:
        dirs += [Path(p) for p in env.split(":") if p]
    dirs.append(Path.cwd() / "configs")
    dirs.append(Path(__file__).resolve().parents[2] / "configs")
    dirs.append(Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
                / "pitwall" / "configs")
    seen, out = set(), []
    for d in dirs:
        r = d.resolve()
        if r not in seen and r.is_dir():
            seen.add(r)
            out.append(r)
    return out


def discover_profiles(dirs: list[Path] | None = None) -> dict[str, Path]:
    """Profile name (path below its config dir, no suffix: ``mujoco/inverted_pendulum``) → file."""
    out: dict[str, Path] = {}
    for d in (dirs if dirs is not None else profile_search_dirs()):
        for p in sorted(d.rglob("*")):
            if p.suffix in PROFILE_SUFFIXES and p.is_file() and not p.name.startswith("_"):
                name = p.relative_to(d).with_suffix("").as_posix()
                out.setdefault(name, p)
    return out


def find_profile(ref: str, dirs: list[Path] | None = None) -> tuple[str, Path]:
    """A profile by path, full name, or unique last name component (``inverted_pendulum``)."""
    p = Path(ref)
    if p.suffix in PROFILE_SUFFIXES and p.is_file():
        return p.stem, p.resolve()
    known = discover_profiles(dirs)
    if ref in known:
        return ref, known[ref]
    tail = [n for n in known if n.rsplit("/", 1)[-1] == ref]
    if len(tail) == 1:
        return tail[0], known[tail[0]]
    if len(tail) > 1:
        raise ProfileError(None, "profile %r is ambiguous: %s" % (ref, ", ".join(sorted(tail))))
    close = difflib.get_close_matches(ref, list(known), n=3, cutoff=0.5)
    hint = (" Did you mean %s?" % " or ".join(close)) if close else ""
    searched = ", ".join(str(d) for d in (dirs if dirs is not None else profile_search_dirs()))
    raise ProfileError(None, "no profile %r.%s Known: %s (searched %s)"
                       % (ref, hint, ", ".join(sorted(known)) or "none", searched or "nothing"))


# --------------------------------------------------------------------------- loading

def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ProfileError(path, "cannot read (%s)" % e.strerror)
    try:
        data = load_yaml(text)
    except yaml.YAMLError as e:
        raise ProfileError(path, "not valid YAML: %s" % e)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ProfileError(path, "expected a mapping at the top level, found %s"
                           % type(data).__name__)
    return data


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _raw_with_extends(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path in seen:
        raise ProfileError(path, "field 'extends': cycle through %s"
                           % " -> ".join(str(s) for s in seen + (path,)))
    data = _read_yaml(path)
    parent = data.get("extends")
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ProfileError(path, "field 'extends': expected a profile name or path")
    candidate = (path.parent / parent)
    if candidate.suffix not in PROFILE_SUFFIXES:
        candidate = candidate.with_suffix(".yaml")
    if candidate.is_file():
        parent_path = candidate.resolve()
    else:
        try:
            _, parent_path = find_profile(parent)
        except ProfileError as e:
            raise ProfileError(path, "field 'extends': %s" % e.message)
    base = _raw_with_extends(parent_path, seen + (path,))
    base.pop("extends", None)
    merged = _deep_merge(base, {k: v for k, v in data.items() if k != "extends"})
    merged["extends"] = parent
    return merged


def format_validation_error(path: Path, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"] if not str(x).startswith("function-after"))
        loc = re.sub(r"\.(jsonl|tensorboard|csv|stdout)\b", "", loc)
        msg = e["msg"]
        if e["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            model = _model_at(e["loc"][:-1])
            allowed = ", ".join(_field_names(model)) if model is not None else "?"
            msg = "unknown field (allowed: %s)" % allowed
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif "input" in e and e["type"] not in ("value_error",):
            msg = "%s (got %r)" % (msg, e["input"])
        msg = msg.replace("Value error, ", "")
        model = _model_at(e["loc"]) if e["type"] == "value_error" else None
        head = msg.split(": ", 1)
        if model is not None and len(head) == 2 and head[0] in _field_names(model):
            loc, msg = "%s.%s" % (loc, head[0]), head[1]   # a dataclass names its own field
        lines.append("field %r: %s" % (loc or "<top>", msg))
    return "; ".join(lines)


def _field_names(model: Any) -> list[str]:
    if dataclasses.is_dataclass(model):
        return [f.name for f in dataclasses.fields(model)]
    return list(model.model_fields)


def _model_at(loc: tuple[Any, ...]) -> Any:
    from . import metric_specs as ms

    model: Any = Profile
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None:
            return None
        if part in ("jsonl", "tensorboard", "csv", "stdout"):
            model = {"jsonl": ms.JsonlSource, "tensorboard": ms.TensorBoardSource,
                     "csv": ms.CsvSource, "stdout": ms.StdoutSource}[part]
            continue
        if dataclasses.is_dataclass(model):
            return None
        f = model.model_fields.get(part)
        if f is None:
            return None
        model = _inner_model(f.annotation)
    return model if _is_model(model) else None


def _is_model(ann: Any) -> bool:
    return isinstance(ann, type) and (issubclass(ann, BaseModel) or dataclasses.is_dataclass(ann))


def _inner_model(ann: Any) -> Any:
    args = getattr(ann, "__args__", None)
    if _is_model(ann):
        return ann
    for a in args or ():
        m = _inner_model(a)
        if m is not None:
            return m
    return None


def load_profile(path: Path | str) -> Profile:
    path = Path(path).resolve()
    raw = _raw_with_extends(path)
    try:
        return Profile.model_validate(raw)
    except ValidationError as e:
        raise ProfileError(path, format_validation_error(path, e))


# --------------------------------------------------------------------------- resolving

@dataclass
class ResolvedProfile:
    """A profile with its overrides applied: what a launch needs."""
    name: str
    path: Path
    profile: Profile
    params: dict[str, Any]
    overrides: list[str]

    @property
    def experiment(self) -> str:
        return render(self.profile.experiment, self.context(), self.path, "experiment")

    def context(self, **extra: Any) -> dict[str, Any]:
        ctx: dict[str, Any] = {"params": self.params, "python": sys.executable,
                               "profile_dir": str(self.path.parent)}
        ctx.update(extra)
        return ctx


def resolve_profile(ref: str, overrides: list[str] | None = None,
                    dirs: list[Path] | None = None) -> ResolvedProfile:
    name, path = find_profile(ref, dirs)
    profile = load_profile(path)
    try:
        params = apply_overrides(profile.params, overrides or [], profile.choices)
    except OverrideError as e:
        raise ProfileError(path, str(e))
    rp = ResolvedProfile(name, path, profile, params, list(overrides or []))
    try:
        check_experiment_name(rp.experiment)
    except ValueError as e:
        raise ProfileError(path, "field 'experiment': %s" % e)
    return rp


_TEMPLATE_RE = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_.-]*)\}")


def render(template: str, ctx: Mapping[str, Any], path: Path | str | None, where: str) -> str:
    """Fill ``{name}`` / ``{params.a.b}`` placeholders; ``{{``/``}}`` are literal braces."""
    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "{{":
            return "{"
        if m.group(0) == "}}":
            return "}"
        key = m.group(1)
        node: Any = ctx
        for part in key.split("."):
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            else:
                raise ProfileError(path, "field %r: unknown placeholder {%s} (known: %s)"
                                   % (where, key, ", ".join(_flat_keys(ctx))))
        if isinstance(node, bool):
            return "true" if node else "false"
        return str(node)

    return _TEMPLATE_RE.sub(sub, template)


def _flat_keys(ctx: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k, v in ctx.items():
        if isinstance(v, Mapping):
            out += _flat_keys(v, prefix + k + ".")
        else:
            out.append(prefix + k)
    return out
