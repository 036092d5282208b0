"""Display discovery and choice against real servers: an Xvfb is found and opens, a dead one
(a stale socket, a killed server) is refused, Wayland sockets are probed by connecting, the
choice is remembered per host, and everything falls back to headless with a message."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess

import pytest

from conftest import wait_until
from tui.core.displays import (choose_display, discover, forget, memory_file, probe,
                               remember, remembered)

if not shutil.which("Xvfb"):
    pytest.skip("Xvfb is not installed (apt install xvfb)", allow_module_level=True)

SCREEN = (480, 360)


def free_display() -> int:
    for n in range(90, 400):
        if not os.path.exists("/tmp/.X11-unix/X%d" % n) and \
                not os.path.exists("/tmp/.X%d-lock" % n):
            return n
    raise RuntimeError("no free X display number")


class Xvfb:
    def __init__(self, number: int | None = None) -> None:
        self.number = free_display() if number is None else number
        self.name = ":%d" % self.number
        self.proc = subprocess.Popen(["Xvfb", self.name, "-screen", "0",
                                      "%dx%dx24" % SCREEN, "-nolisten", "tcp"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        wait_until(lambda: os.path.exists("/tmp/.X11-unix/X%d" % self.number), 10,
                   what="Xvfb %s" % self.name)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def xvfb():
    servers: list[Xvfb] = []

    def start(number: int | None = None) -> Xvfb:
        servers.append(Xvfb(number))
        return servers[-1]

    yield start
    for s in servers:
        s.kill()


@pytest.fixture(autouse=True)
def config(tmp_path, monkeypatch):
    monkeypatch.setenv("PITWALL_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path / "config"


@pytest.fixture
def stale_x_socket():
    """/tmp/.X11-unix/X<n> left behind by a server that died: nobody listens."""
    n = free_display()
    path = "/tmp/.X11-unix/X%d" % n
    os.makedirs("/tmp/.X11-unix", exist_ok=True)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()
    yield ":%d" % n
    os.unlink(path)


def test_discovery_finds_the_x_server_and_the_session_display(xvfb, stale_x_socket):
    x = xvfb()
    env = {"DISPLAY": "localhost:10.0"}
    found = discover(env)
    names = [c.name for c in found]
    assert names[0] == "localhost:10.0" and found[0].source == "$DISPLAY"
    assert x.name in names and stale_x_socket in names
    cand = found[names.index(x.name)]
    assert cand.kind == "x11" and cand.source == "/tmp/.X11-unix/X%d" % x.number
    assert discover({"DISPLAY": x.name + ".0"}).count(cand) == 0   # :N.0 is :N: listed once
    assert [c.name for c in discover({"DISPLAY": x.name + ".0"})].count(x.name) == 0


def test_probe_opens_a_live_server_and_refuses_a_dead_one(xvfb, stale_x_socket):
    x = xvfb()
    res = probe(x.name)
    assert res.ok and res.detail == "480x360, GLX", res
    dead = probe(stale_x_socket)
    assert not dead.ok and "cannot open display" in dead.detail
    x.kill()
    gone = probe(x.name)
    assert not gone.ok
    assert not probe("localhost:99.0", timeout=2).ok
    assert not probe("not a display").ok


def test_wayland_sockets_are_found_and_probed_by_connecting(tmp_path):
    runtime = tmp_path / "run-user"
    runtime.mkdir()
    live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    live.bind(str(runtime / "wayland-1"))
    live.listen(1)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(runtime / "wayland-2"))
    dead.close()
    try:
        env = {"XDG_RUNTIME_DIR": str(runtime), "WAYLAND_DISPLAY": "wayland-1"}
        found = [c for c in discover(env, x11_dir=str(tmp_path / "none")) if c.kind == "wayland"]
        assert [c.name for c in found] == ["wayland-1", "wayland-2"]
        assert found[0].source == "$WAYLAND_DISPLAY"
        assert probe("wayland-1", env=env).ok
        bad = probe("wayland-2", env=env)
        assert not bad.ok and "does not answer" in bad.detail
        assert "no Wayland socket" in probe("wayland-9", env=env).detail
    finally:
        live.close()


def test_auto_uses_the_remembered_display_else_the_first_that_opens(xvfb, stale_x_socket,
                                                                    config):
    a, b = xvfb(), xvfb()
    env = {"DISPLAY": stale_x_socket}                 # the session's display is dead
    c = choose_display("auto", env=env)
    assert c.display == min((a, b), key=lambda s: s.number).name and c.message is None
    assert [p.name for p in c.probes][0] == stale_x_socket and not c.probes[0].ok

    chosen = choose_display(b.name, env=env)            # an explicit choice is remembered
    assert chosen.display == b.name and remembered() == b.name
    assert '"display": "%s"' % b.name in memory_file().read_text()
    assert choose_display("auto", env=env).display == b.name

    b.kill()                                            # the remembered one died: next best
    c = choose_display("auto", env=env)
    assert c.display == a.name and not c.probes[0].ok and c.probes[0].name == b.name
    forget()
    assert remembered() is None


def test_fallback_to_headless_says_why(stale_x_socket, tmp_path):
    c = choose_display(stale_x_socket)
    assert c.headless and c.display == "none"
    assert "display %s does not work (cannot open display" % stale_x_socket in c.message
    assert "headless" in c.message
    assert remembered() is None                        # a failed choice is not remembered

    nothing = choose_display("auto", env={}, x11_dir=str(tmp_path / "no-x"))
    assert nothing.headless and "no display found ($DISPLAY is not set" in nothing.message

    only_dead = choose_display("auto", env={"DISPLAY": stale_x_socket},
                               x11_dir=str(tmp_path / "no-x"))
    assert only_dead.headless and "no display works (%s: cannot open" % stale_x_socket \
        in only_dead.message


def test_headless_can_be_the_remembered_choice():
    assert choose_display("none").headless and remembered() is None    # a one-off
    remember("none")
    assert choose_display("auto", env={"DISPLAY": ":0"}).display == "none"
    remember(":7", host="other-box")
    assert remembered() == "none" and remembered("other-box") == ":7"


def test_pitwall_displays_lists_and_remembers(xvfb, stale_x_socket, capsys):
    from tui.cli import main as cli

    x = xvfb()
    assert cli(["displays"]) == 0
    out = capsys.readouterr().out
    line = [ln for ln in out.splitlines() if ln.startswith(x.name + " ")][0]
    assert "yes" in line and "480x360, GLX" in line
    dead = [ln for ln in out.splitlines() if ln.startswith(stale_x_socket + " ")][0]
    assert " no " in dead
    assert cli(["displays", "--use", stale_x_socket]) == 1
    assert "not remembered" in capsys.readouterr().out
    assert cli(["displays", "--use", x.name]) == 0
    assert remembered() == x.name
