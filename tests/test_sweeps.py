"""Sweeps: Hydra's multirun syntax, validated run by run before anything is created."""
from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO
from tui.core.launchers import launch_runs, plan
from tui.core.profiles import ProfileError
from tui.core.sweeps import SweepError, expand, parse_sweep, split_top_level, swept


def test_comma_lists_give_the_product_first_key_slowest():
    assert expand(["seed=0,1,2", "ppo.lr=1e-3,3e-4"]) == [
        ["seed=0", "ppo.lr=1e-3"], ["seed=0", "ppo.lr=3e-4"],
        ["seed=1", "ppo.lr=1e-3"], ["seed=1", "ppo.lr=3e-4"],
        ["seed=2", "ppo.lr=1e-3"], ["seed=2", "ppo.lr=3e-4"]]


def test_brackets_and_quotes_do_not_split_and_plain_overrides_pass_through():
    runs = expand(["hidden=[64,64],[128,128]", "note='a,b'", "+tag=x", "~old"])
    assert runs == [["hidden=[64,64]", "note='a,b'", "+tag=x", "~old"],
                    ["hidden=[128,128]", "note='a,b'", "+tag=x", "~old"]]
    assert split_top_level("a,{b: 1, c: 2},'d,e',f(g,h)") == \
        ["a", "{b: 1, c: 2}", "'d,e'", "f(g,h)"]


@pytest.mark.parametrize("value,expected", [
    ("range(3)", ["0", "1", "2"]),
    ("range(1,7,2)", ["1", "3", "5"]),
    ("range(start=2, stop=4)", ["2", "3"]),
    ("range(5,0,-2)", ["5", "3", "1"]),
    ("range(0,1,0.25)", ["0.0", "0.25", "0.5", "0.75"]),
    ("choice(adam, sgd)", ["adam", "sgd"]),
])
def test_range_and_choice(value, expected):
    assert parse_sweep("k=" + value).values == tuple(expected)


def test_glob_picks_among_the_profile_choices():
    choices = {"device": ["auto", "cpu", "cuda"]}
    assert parse_sweep("device=glob(c*)", choices).values == ("cpu", "cuda")
    assert parse_sweep("device=glob(*, exclude=[cuda, auto])", choices).values == ("cpu",)
    with pytest.raises(SweepError, match="declares none"):
        parse_sweep("seed=glob(*)", choices)
    with pytest.raises(SweepError, match="no choice"):
        parse_sweep("device=glob(x*)", choices)


@pytest.mark.parametrize("raw,msg", [
    ("k=range(0,0)", "empty"), ("k=range(1,5,0)", "step must not be 0"),
    ("k=range(a,3)", "not a number"), ("k=1,,2", "empty value"), ("k=[1,2", "unbalanced"),
    ("k=choice()", "one or more"), ("k='a,b", "unclosed quote"),
])
def test_bad_sweeps_name_the_override(raw, msg):
    with pytest.raises(SweepError, match=msg) as e:
        expand([raw])
    assert raw in str(e.value)


def test_too_many_runs_is_refused():
    with pytest.raises(SweepError, match="at most 1000"):
        expand(["a=range(100)", "b=range(11)"])


def test_swept_finds_what_needs_multirun():
    assert swept(["a=1", "b=1,2", "c=[1,2]", "d=range(3)", "e='x,y'", "~f"]) == \
        ["b=1,2", "d=range(3)"]


def test_every_run_is_validated_before_anything_is_created(runs_root):
    with pytest.raises(ProfileError) as e:
        launch_runs("mujoco/inverted_pendulum", ["seed=0,1", "num_envs=4,many"], runs_root,
                    multirun=True)
    assert "run 2 of 4 (seed=0 num_envs=many)" in str(e.value)
    assert "params.num_envs expects an integer" in str(e.value)
    assert list(runs_root.iterdir()) == []


def test_plan_resolves_one_profile_per_run():
    rps = plan("mujoco/inverted_pendulum", ["seed=range(3)", "ppo.lr=1e-3,3e-4"], True)
    assert [(rp.params["seed"], rp.params["ppo"]["lr"]) for rp in rps] == [
        (0, 1e-3), (0, 3e-4), (1, 1e-3), (1, 3e-4), (2, 1e-3), (2, 3e-4)]


def test_a_sweep_without_multirun_is_refused_as_hydra_does(tmp_path):
    out = subprocess.run([sys.executable, "-m", "tui.cli", "--root", str(tmp_path / "runs"),
                          "launch", "mujoco/inverted_pendulum", "seed=0,1"],
                         capture_output=True, text=True, timeout=60, cwd=REPO)
    assert out.returncode == 2
    assert "override 'seed=0,1' is a sweep; add -m" in out.stderr
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


def test_the_runner_checks_every_run_of_a_sweep_before_anything_is_created(runs_root):
    with pytest.raises(ProfileError) as e:
        launch_runs("mujoco/inverted_pendulum", ["num_envs=4,0"], runs_root, multirun=True)
    assert "run 2 of 2 (num_envs=0): field 'params.num_envs': must be >= 1" in str(e.value)
    assert "checked by runners.mujoco" in str(e.value)
    assert list(runs_root.iterdir()) == []
