"""The terminal goes away (SSH drop): Pitwall exits within a second, without spinning, and the
runs it shows keep going. Two ways it happens: SIGHUP to the session that owns the terminal,
and a terminal that simply hangs up under a process it does not control (stdin at EOF, where
stock Textual 8.2 spins at 100 % CPU)."""
from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import psutil
import pytest

from tui.core.launch import launch
from tui.core.registry import load_run

from conftest import wait_until

PITWALL = Path(sys.executable).with_name("pitwall")


def start_in_pty(argv: list[str], own_terminal: bool,
                 colors: str = "truecolor") -> tuple[subprocess.Popen, int]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))

    def take_terminal():  # a login shell's child: the pty is its controlling terminal
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor")
    if colors == "256":
        env.pop("COLORTERM")
    if own_terminal:
        p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                             preexec_fn=take_terminal, close_fds=True)
    else:
        p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                             start_new_session=True, close_fds=True)
    os.close(slave)
    return p, master


ANSI = re.compile(rb"\x1b\[[0-9;?$>]*[A-Za-z]")


def read_until(master: int, needle: bytes, timeout: float) -> bytes:
    buf = b""
    deadline = time.monotonic() + timeout
    while needle not in ANSI.sub(b"", buf) and time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                buf += os.read(master, 65536)
            except OSError:
                break
    return buf


@pytest.mark.parametrize("own_terminal", [True, False], ids=["sighup", "stdin-eof"])
def test_exits_within_a_second_when_the_terminal_goes(runs_root, test_profiles, own_terminal):
    run = launch("one_role", ["exit_after=120"], runs_root).run_dir
    wait_until(lambda: load_run(run).status == "running", what="run running")
    p, master = start_in_pty([str(PITWALL), "--root", str(runs_root)], own_terminal)
    try:
        out = ANSI.sub(b"", read_until(master, b" running ", 20))
        assert b" running " in out, out[-2000:]   # the run is on screen
        t0 = time.monotonic()
        os.close(master)                       # the SSH connection drops
        rc = p.wait(timeout=5)
        took = time.monotonic() - t0
    finally:
        if p.poll() is None:
            p.kill()
    assert took < 1.0, "pitwall needed %.2f s to exit" % took
    assert rc == 0
    assert load_run(run).status == "running"   # the training did not notice
    main = load_run(run).role("main")
    assert psutil.pid_exists(main.pid)


@pytest.mark.parametrize("colors", ["256", "truecolor"])
def test_draws_in_256_colours_and_in_truecolor(tmp_path, colors):
    p, master = start_in_pty([str(PITWALL), "--root", str(tmp_path / "runs")], True, colors)
    try:
        out = read_until(master, b"No runs under this root yet", 20)
        assert b"No runs under this root yet" in ANSI.sub(b"", out)
    finally:
        os.close(master)
        p.wait(timeout=5)
    true_rgb = re.search(rb"\x1b\[[0-9;]*[34]8;2;", out) is not None
    palette = re.search(rb"\x1b\[[0-9;]*[34]8;5;", out) is not None
    assert (true_rgb, palette) == ((False, True) if colors == "256" else (True, False))
