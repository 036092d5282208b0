"""Hydra-style ``key=value`` overrides of a profile's ``params``, with type checks.

``a.b=3`` sets a nested parameter; the value is read as YAML and must have the type of the
profile's default (an int stays an int, ``1.5`` is refused for it; an int is accepted where a
float is expected). ``+key=value`` adds a parameter the profile does not have; ``~key`` removes
one. Errors name the override, the parameter, the expected type and the allowed values.
"""
from __future__ import annotations

import copy
import difflib
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import yaml


class OverrideError(ValueError):
    pass


class YamlLoader(yaml.SafeLoader):
    """SafeLoader that reads ``3e-4`` and ``1e6`` as floats (YAML 1.2), not as strings."""


YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                  |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                  |\.[0-9_]+(?:[eE][-+][0-9]+)?
                  |[-+]?\.(?:inf|Inf|INF)
                  |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def load_yaml(text: str) -> object:
    return yaml.load(text, Loader=YamlLoader)


@dataclass(frozen=True)
class Override:
    raw: str
    key: str
    value: Any
    op: str  # "set" | "add" | "del"


_TYPE_NAMES = {bool: "true/false", int: "an integer", float: "a number", str: "a string",
               list: "a list", dict: "a mapping"}


def parse_override(raw: str) -> Override:
    text = raw.strip()
    if text.startswith("~"):
        key = text[1:].split("=", 1)[0].strip()
        _check_key(raw, key)
        return Override(raw, key, None, "del")
    op = "set"
    if text.startswith("+"):
        op, text = "add", text[1:]
    if "=" not in text:
        raise OverrideError("override %r: expected key=value (e.g. num_envs=16)" % raw)
    key, value_text = text.split("=", 1)
    key = key.strip()
    _check_key(raw, key)
    try:
        value = load_yaml(value_text) if value_text.strip() != "" else ""
    except yaml.YAMLError as e:
        raise OverrideError("override %r: value is not valid YAML (%s)" % (raw, e))
    return Override(raw, key, value, op)


def _check_key(raw: str, key: str) -> None:
    if not key or any(not part.isidentifier() and not part.replace("-", "_").isidentifier()
                      for part in key.split(".")):
        raise OverrideError("override %r: %r is not a parameter name" % (raw, key))


def _all_keys(params: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k, v in params.items():
        full = prefix + str(k)
        out.append(full)
        if isinstance(v, Mapping):
            out.extend(_all_keys(v, full + "."))
    return out


def _coerce(ov: Override, default: Any, choices: Iterable[Any] | None, where: str) -> Any:
    value = ov.value
    if default is None or ov.op == "add":
        result = value
    elif isinstance(default, bool):
        if not isinstance(value, bool):
            raise OverrideError("override %r: %s expects true/false (default %r), got %r"
                                % (ov.raw, where, default, value))
        result = value
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise OverrideError("override %r: %s expects an integer (default %r), got %r"
                                    % (ov.raw, where, default, value))
        result = value
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise OverrideError("override %r: %s expects a number (default %r), got %r"
                                % (ov.raw, where, default, value))
        result = float(value)
    elif isinstance(default, str):
        # YAML reads "1e-3" as a string and "3" as an int: a string parameter takes the text
        result = ov.raw.split("=", 1)[1].strip() if not isinstance(value, str) else value
    elif isinstance(default, list):
        if not isinstance(value, list):
            raise OverrideError("override %r: %s expects a list like [1, 2] (default %r), got %r"
                                % (ov.raw, where, default, value))
        result = value
    elif isinstance(default, dict):
        if not isinstance(value, dict):
            raise OverrideError("override %r: %s expects a mapping like {a: 1} (default %r)"
                                % (ov.raw, where, default))
        result = value
    else:
        result = value
    if choices is not None:
        allowed = list(choices)
        if result not in allowed:
            raise OverrideError("override %r: %s must be one of %s, got %r"
                                % (ov.raw, where, ", ".join(repr(c) for c in allowed), result))
    return result


def apply_overrides(params: Mapping[str, Any], overrides: Iterable[str],
                    choices: Mapping[str, Iterable[Any]] | None = None) -> dict[str, Any]:
    """Return a new params dict with the overrides applied (the input is not changed)."""
    out: dict[str, Any] = copy.deepcopy(dict(params))
    choices = choices or {}
    for raw in overrides:
        ov = parse_override(raw)
        parts = ov.key.split(".")
        node: Any = out
        for i, part in enumerate(parts[:-1]):
            if not isinstance(node, dict) or part not in node:
                if ov.op == "add" and isinstance(node, dict):
                    node = node.setdefault(part, {})
                    continue
                raise _unknown(ov, ".".join(parts[:i + 1]), out)
            node = node[part]
        if not isinstance(node, dict):
            raise OverrideError("override %r: %s is not a mapping"
                                % (ov.raw, ".".join(parts[:-1])))
        leaf = parts[-1]
        if ov.op == "del":
            if leaf not in node:
                raise _unknown(ov, ov.key, out)
            del node[leaf]
            continue
        if ov.op == "set" and leaf not in node:
            raise _unknown(ov, ov.key, out)
        if ov.op == "add" and leaf in node:
            raise OverrideError("override %r: params.%s exists already; drop the '+' to change it"
                                % (ov.raw, ov.key))
        node[leaf] = _coerce(ov, node.get(leaf), choices.get(ov.key), "params." + ov.key)
    return out


def _unknown(ov: Override, key: str, params: Mapping[str, Any]) -> OverrideError:
    keys = _all_keys(params)
    close = difflib.get_close_matches(key, keys, n=3, cutoff=0.6)
    hint = (" Did you mean %s?" % " or ".join(repr(c) for c in close)) if close else ""
    return OverrideError("override %r: unknown parameter %r.%s Known: %s. Use +%s=... to add one."
                         % (ov.raw, key, hint, ", ".join(keys) or "(none)", key))


# --------------------------------------------------------------------------- as editable text

def format_value(value: Any) -> str:
    """A parameter value as the text of a ``key=value`` line (YAML flow style)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        parsed = None
        try:
            parsed = load_yaml(value)
        except yaml.YAMLError:
            pass
        return value if parsed == value and "#" not in value else yaml.safe_dump(
            value, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()
    return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """``{"ppo": {"lr": 3e-4}}`` -> ``[("ppo.lr", "0.0003")]``; lists stay one value."""
    out: list[tuple[str, str]] = []
    for k, v in params.items():
        key = prefix + str(k)
        if isinstance(v, Mapping) and v:
            out += flatten_params(v, key + ".")
        else:
            out.append((key, format_value(v)))
    return out


def params_text(params: Mapping[str, Any]) -> str:
    return "\n".join("%s=%s" % kv for kv in flatten_params(params)) + "\n"


def overrides_from_text(text: str, params: Mapping[str, Any]) -> list[str]:
    """The overrides that turn ``params`` into the edited ``key=value`` lines.

    Lines equal to the default give nothing (so a changed line typed above or below the default
    one wins); of several changed lines for one key the last wins; ``#`` starts a comment line;
    ``+key=value`` and ``~key`` pass through. A line that is not ``key=value`` raises
    :class:`OverrideError` naming its line number.
    """
    defaults = dict(flatten_params(params))
    chosen: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("~"):
            chosen[line[1:].strip()] = line
            continue
        if "=" not in line:
            raise OverrideError("line %d: %r is not key=value" % (n, raw.strip()))
        key, value = line.split("=", 1)
        key, value = key.strip(), value.strip()
        bare = key.lstrip("+")
        if not key.startswith("+") and defaults.get(bare) == value:
            continue
        chosen[bare] = "%s=%s" % (key, value)
    return list(chosen.values())
