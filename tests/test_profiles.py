"""Profiles and overrides: validation errors that name file, field and allowed values."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui.core.overrides import OverrideError, apply_overrides
from tui.core.profiles import (ProfileError, discover_profiles, find_profile, load_profile,
                               render, resolve_profile)

REPO = Path(__file__).resolve().parents[1]

BASE = """
backend: external
experiment: Exp
params:
  lr: 0.001
  num_envs: 8
  name: walker
  flags: {render: false}
  layers: [64, 64]
choices:
  name: [walker, runner]
processes:
  - role: train
    argv: ["echo", "{params.num_envs}"]
"""


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_shipped_profiles_all_validate():
    found = discover_profiles([REPO / "configs"])
    assert "mujoco/inverted_pendulum" in found
    for name, path in found.items():
        load_profile(path)  # raises on any error


def test_unknown_field_names_file_field_and_allowed(tmp_path):
    p = write(tmp_path, BASE + "    stopp: {sigint_grace: 3}\n")
    with pytest.raises(ProfileError) as e:
        load_profile(p)
    msg = str(e.value)
    assert str(p) in msg and "processes.0.stopp" in msg and "unknown field" in msg
    assert "allowed:" in msg and "stop" in msg and "ready" in msg


def test_wrong_type_and_bad_values(tmp_path):
    p = write(tmp_path, BASE.replace('argv: ["echo", "{params.num_envs}"]',
                                     'argv: ["echo"]\n    stop: {sigint_grace: soon}'))
    with pytest.raises(ProfileError, match=r"processes\.0\.stop\.sigint_grace.*valid number"):
        load_profile(p)
    p = write(tmp_path, BASE + "    ready: {log: 'x', port: 5}\n")
    with pytest.raises(ProfileError, match="exactly one of log, file, port, delay"):
        load_profile(p)
    p = write(tmp_path, BASE + "    runner: mujoco\n")
    with pytest.raises(ProfileError, match="exactly one of runner .* or argv"):
        load_profile(p)
    p = write(tmp_path, "backend: x\nexperiment: y\nprocesses: []\n")
    with pytest.raises(ProfileError, match="processes.*at least 1"):
        load_profile(p)
    p = write(tmp_path, "- just\n- a list\n")
    with pytest.raises(ProfileError, match="expected a mapping"):
        load_profile(p)
    p = write(tmp_path, "backend: [unclosed\n")
    with pytest.raises(ProfileError, match="not valid YAML"):
        load_profile(p)


def test_overrides_are_type_checked(tmp_path):
    p = write(tmp_path, BASE)
    rp = resolve_profile(str(p), ["lr=3e-4", "num_envs=16", "flags.render=true",
                                  "layers=[32, 32]", "name=runner", "+extra.seed=3"])
    assert rp.params["lr"] == pytest.approx(3e-4) and isinstance(rp.params["lr"], float)
    assert rp.params["num_envs"] == 16 and rp.params["flags"]["render"] is True
    assert rp.params["layers"] == [32, 32] and rp.params["extra"] == {"seed": 3}
    cases = {
        "num_envs=abc": r"params\.num_envs expects an integer \(default 8\), got 'abc'",
        "num_envs=1.5": "expects an integer",
        "lr=fast": "expects a number",
        "flags.render=maybe": "expects true/false",
        "name=jogger": r"must be one of 'walker', 'runner'",
        "num_env=3": r"unknown parameter 'num_env'.*Did you mean 'num_envs'",
        "+lr=1": "exists already",
        "noequals": "expected key=value",
        "layers=3": "expects a list",
    }
    for ov, pattern in cases.items():
        with pytest.raises(ProfileError, match=pattern) as e:
            resolve_profile(str(p), [ov])
        assert str(p) in str(e.value)


def test_string_params_take_the_text(tmp_path):
    p = write(tmp_path, BASE)
    assert resolve_profile(str(p), ["name=walker"]).params["name"] == "walker"
    out = apply_overrides({"tag": "a"}, ["tag=123"])
    assert out["tag"] == "123"


@given(st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_override_parser_never_crashes(raw):
    try:
        apply_overrides({"a": 1, "b": {"c": 0.5}, "s": "x", "l": [1]}, [raw])
    except OverrideError:
        pass


def test_extends_merges_and_templates_resolve(tmp_path):
    write(tmp_path, BASE, "base.yaml")
    child = write(tmp_path, "extends: base\nexperiment: Child\nparams: {num_envs: 4}\n",
                  "child.yaml")
    rp = resolve_profile(str(child))
    assert rp.experiment == "Child" and rp.params["num_envs"] == 4 and rp.params["lr"] == 0.001
    assert render("{params.num_envs} {{x}}", rp.context(), child, "f") == "4 {x}"
    with pytest.raises(ProfileError, match=r"unknown placeholder \{params\.nope\}"):
        render("{params.nope}", rp.context(), child, "processes[0].argv")
    loop = write(tmp_path, "extends: loop2\nbackend: x\n", "loop1.yaml")
    write(tmp_path, "extends: loop1\n", "loop2.yaml")
    with pytest.raises(ProfileError, match="cycle"):
        load_profile(loop)


def test_find_profile_by_short_name_and_suggestions(tmp_path):
    (tmp_path / "mujoco").mkdir()
    write(tmp_path / "mujoco", BASE, "pendulum.yaml")
    name, path = find_profile("pendulum", [tmp_path])
    assert name == "mujoco/pendulum"
    with pytest.raises(ProfileError, match="Did you mean mujoco/pendulum"):
        find_profile("mujoco/pendulm", [tmp_path])
