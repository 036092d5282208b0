"""Which display a viewer window can use: discovery, a real probe, a per-host memory.

Candidates, in this order: the session's ``$DISPLAY`` (``localhost:10.0`` under ``ssh -X``),
the Wayland socket of ``$WAYLAND_DISPLAY`` / ``$XDG_RUNTIME_DIR/wayland-*``, and the local X
servers that have a socket in ``/tmp/.X11-unix`` (``X0`` → ``:0``, a monitor someone watches).

A probe really opens the display, in a child process with a timeout (a stale SSH tunnel can make
``XOpenDisplay`` hang): ``XOpenDisplay`` through ctypes (``xdpyinfo`` where libX11 cannot be
loaded), and it checks for GLX, without which no OpenGL window opens. A Wayland socket is probed
by connecting to it.

The display a user picks is remembered per host in ``~/.config/pitwall/displays.json``
(``$PITWALL_CONFIG_DIR`` overrides the directory). ``auto`` means: the remembered display if it
still opens, else the first candidate that opens, else headless with a message that says why.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from runners.protocol import ProtocolError, atomic_write_json, now_iso, read_json_object
from runners.protocol.displays import HEADLESS, is_wayland_display, is_x_display

X11_DIR = "/tmp/.X11-unix"
PROBE_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class DisplayCandidate:
    name: str      # ":0", "localhost:10.0", "wayland-0"
    kind: str      # x11 | wayland
    source: str    # where it was found: "$DISPLAY", "/tmp/.X11-unix/X0", ...


@dataclass
class ProbeResult:
    name: str
    ok: bool
    detail: str              # "640x480, GLX" or why it did not open
    seconds: float = 0.0

    def describe(self) -> str:
        return "%s: %s" % (self.name, self.detail)


@dataclass
class DisplayChoice:
    display: str                     # "none" or the display to use
    requested: str
    message: str | None = None       # why it fell back to headless (None: as asked)
    probes: list[ProbeResult] = field(default_factory=list)

    @property
    def headless(self) -> bool:
        return self.display == HEADLESS


# --------------------------------------------------------------------------- discovery

def discover(env: Mapping[str, str] | None = None, x11_dir: str = X11_DIR
             ) -> list[DisplayCandidate]:
    env = os.environ if env is None else env
    out: list[DisplayCandidate] = []
    seen: set[str] = set()

    def add(c: DisplayCandidate) -> None:
        key = _canonical(c.name)
        if key not in seen:
            seen.add(key)
            out.append(c)

    d = env.get("DISPLAY", "").strip()
    if d:
        add(DisplayCandidate(d, "x11", "$DISPLAY"))
    runtime = env.get("XDG_RUNTIME_DIR", "").strip()
    w = env.get("WAYLAND_DISPLAY", "").strip()
    if w:
        add(DisplayCandidate(w, "wayland", "$WAYLAND_DISPLAY"))
    if runtime:
        try:
            names = sorted(os.listdir(runtime))
        except OSError:
            names = []
        for n in names:
            if re.fullmatch(r"wayland-\d+", n):
                add(DisplayCandidate(n, "wayland", os.path.join(runtime, n)))
    try:
        socks = os.listdir(x11_dir)
    except OSError:
        socks = []
    for n in sorted(socks, key=lambda s: (len(s), s)):
        m = re.fullmatch(r"X(\d+)", n)
        if m:
            add(DisplayCandidate(":%s" % m.group(1), "x11", os.path.join(x11_dir, n)))
    return out


def _canonical(name: str) -> str:
    """``:0``, ``:0.0`` and ``unix:0`` are the same local display."""
    m = re.fullmatch(r"(?:unix)?:(\d+)(?:\.\d+)?", name)
    return ":%s" % m.group(1) if m else name


# --------------------------------------------------------------------------- probing

_X_PROBE = r"""
import ctypes, ctypes.util, json, sys
name = sys.argv[1].encode()
lib = ctypes.util.find_library("X11") or "libX11.so.6"
x = ctypes.CDLL(lib)
x.XOpenDisplay.restype = ctypes.c_void_p
x.XOpenDisplay.argtypes = [ctypes.c_char_p]
dpy = x.XOpenDisplay(name)
if not dpy:
    print(json.dumps({"ok": False}))
    sys.exit(0)
for f in ("XDefaultScreen", "XDisplayWidth", "XDisplayHeight", "XCloseDisplay"):
    getattr(x, f).argtypes = [ctypes.c_void_p] + ([ctypes.c_int] if "Width" in f or
                                                   "Height" in f else [])
scr = x.XDefaultScreen(dpy)
w, h = x.XDisplayWidth(dpy, scr), x.XDisplayHeight(dpy, scr)
x.XQueryExtension.argtypes = [ctypes.c_void_p, ctypes.c_char_p] + [ctypes.POINTER(ctypes.c_int)] * 3
a, b, c = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
glx = bool(x.XQueryExtension(dpy, b"GLX", ctypes.byref(a), ctypes.byref(b), ctypes.byref(c)))
x.XCloseDisplay(dpy)
print(json.dumps({"ok": True, "width": w, "height": h, "glx": glx}))
"""


def probe(name: str, timeout: float = PROBE_TIMEOUT_S,
          env: Mapping[str, str] | None = None) -> ProbeResult:
    """Really open ``name`` (in a child process, at most ``timeout`` s)."""
    t0 = time.monotonic()
    if name == HEADLESS:
        return ProbeResult(name, True, "headless", 0.0)
    if is_x_display(name):
        ok, detail = _probe_x(name, timeout)
    elif is_wayland_display(name):
        ok, detail = _probe_wayland(name, timeout, env)
    else:
        ok, detail = False, "not a display name (expected :N, host:N.M or wayland-N)"
    return ProbeResult(name, ok, detail, time.monotonic() - t0)


def _probe_x(name: str, timeout: float) -> tuple[bool, str]:
    argv = [sys.executable, "-S", "-c", _X_PROBE, name]
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return False, "no answer within %.0f s (a stale SSH tunnel?)" % timeout
    if r.returncode != 0 or not r.stdout.strip():
        if "OSError" in r.stderr and shutil.which("xdpyinfo"):
            return _probe_xdpyinfo(name, timeout)
        return False, "probe failed: %s" % (r.stderr.strip().splitlines() or ["?"])[-1][:200]
    info = json.loads(r.stdout.strip().splitlines()[-1])
    if not info.get("ok"):
        return False, "cannot open display (no X server answers there, or access denied)"
    size = "%dx%d" % (info["width"], info["height"])
    if not info.get("glx"):
        return False, "opens (%s) but has no GLX extension: OpenGL windows cannot open" % size
    return True, "%s, GLX" % size


def _probe_xdpyinfo(name: str, timeout: float) -> tuple[bool, str]:
    try:
        r = subprocess.run(["xdpyinfo", "-display", name], capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return False, "no answer within %.0f s (a stale SSH tunnel?)" % timeout
    if r.returncode != 0:
        return False, "cannot open display (%s)" % (r.stderr.strip()[:200] or "xdpyinfo failed")
    m = re.search(r"dimensions:\s+(\d+x\d+)", r.stdout)
    if "GLX" not in r.stdout:
        return False, "opens but has no GLX extension: OpenGL windows cannot open"
    return True, "%s, GLX" % (m.group(1) if m else "?")


def _probe_wayland(name: str, timeout: float, env: Mapping[str, str] | None) -> tuple[bool, str]:
    env = os.environ if env is None else env
    path = name if name.startswith("/") else os.path.join(env.get("XDG_RUNTIME_DIR", ""), name)
    if not os.path.exists(path):
        return False, "no Wayland socket at %s" % path
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
    except OSError as e:
        return False, "Wayland socket %s does not answer (%s)" % (path, e.strerror or e)
    finally:
        s.close()
    return True, "Wayland compositor at %s" % path


def probe_all(names: list[str], timeout: float = PROBE_TIMEOUT_S) -> list[ProbeResult]:
    """Probe several displays at once (in parallel), in the given order."""
    if not names:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(names))) as ex:
        return list(ex.map(lambda n: probe(n, timeout), names))


# --------------------------------------------------------------------------- memory

def config_dir() -> Path:
    d = os.environ.get("PITWALL_CONFIG_DIR")
    if d:
        return Path(d)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "pitwall"


def memory_file() -> Path:
    return config_dir() / "displays.json"


def _read_memory() -> dict:
    try:
        obj = read_json_object(memory_file(), missing_ok=True) or {}
    except ProtocolError:
        return {}  # a broken file is replaced by the next choice
    hosts = obj.get("hosts")
    return obj if isinstance(hosts, dict) else {"hosts": {}}


def remembered(host: str | None = None) -> str | None:
    entry = _read_memory().get("hosts", {}).get(host or socket.gethostname())
    if isinstance(entry, dict) and isinstance(entry.get("display"), str):
        return entry["display"]
    return None


def remember(display: str, host: str | None = None) -> None:
    """Remember ``display`` (``none`` too: the user chose headless) for this host."""
    obj = _read_memory()
    obj.setdefault("hosts", {})[host or socket.gethostname()] = {"display": display,
                                                                "chosen_at": now_iso()}
    atomic_write_json(memory_file(), obj)


def forget(host: str | None = None) -> None:
    obj = _read_memory()
    if obj.get("hosts", {}).pop(host or socket.gethostname(), None) is not None:
        atomic_write_json(memory_file(), obj)


# --------------------------------------------------------------------------- choosing

def choose_display(requested: str = "auto", timeout: float = PROBE_TIMEOUT_S,
                   remember_choice: bool = True,
                   env: Mapping[str, str] | None = None,
                   x11_dir: str = X11_DIR) -> DisplayChoice:
    """Resolve ``auto`` / ``none`` / a display name to a display that opens, or headless.

    An explicit display that opens is remembered for this host (``remember_choice``); ``none``
    is not (remember it with :func:`remember`).
    """
    requested = (requested or "auto").strip()
    if requested == HEADLESS:  # a one-off: only `pitwall displays --use none` remembers it
        return DisplayChoice(HEADLESS, requested)
    if requested != "auto":
        res = probe(requested, timeout, env)
        if res.ok:
            if remember_choice:
                remember(requested)
            return DisplayChoice(requested, requested, None, [res])
        return DisplayChoice(HEADLESS, requested,
                             "display %s does not work (%s); the viewer runs headless instead "
                             "(preview frames in the run view)" % (requested, res.detail), [res])
    probes: list[ProbeResult] = []
    mem = remembered()
    if mem == HEADLESS:
        return DisplayChoice(HEADLESS, requested, None)
    if mem:
        res = probe(mem, timeout, env)
        probes.append(res)
        if res.ok:
            return DisplayChoice(mem, requested, None, probes)
    cands = [c.name for c in discover(env, x11_dir) if c.name != mem]
    for res in probe_all(cands, timeout):
        probes.append(res)
    for res in probes[1 if mem else 0:]:
        if res.ok:
            return DisplayChoice(res.name, requested, None, probes)
    if not probes:
        why = "no display found ($DISPLAY is not set, no X server socket in %s, no Wayland " \
              "socket)" % x11_dir
    else:
        why = "no display works (%s)" % "; ".join(p.describe() for p in probes)
    return DisplayChoice(HEADLESS, requested,
                         why + "; the viewer runs headless (preview frames in the run view)",
                         probes)


def desktop_display(timeout: float = PROBE_TIMEOUT_S, env: Mapping[str, str] | None = None,
                    x11_dir: str = X11_DIR) -> DisplayChoice:
    """A display to open a desktop application on (a video player): the remembered display if
    it opens, else the first candidate that does; nothing is remembered, and a remembered
    ``none`` (headless viewers) does not stop the search. Headless with the reason when none
    works."""
    probes: list[ProbeResult] = []
    mem = remembered()
    if mem and mem != HEADLESS:
        res = probe(mem, timeout, env)
        probes.append(res)
        if res.ok:
            return DisplayChoice(mem, "auto", None, probes)
    cands = [c.name for c in discover(env, x11_dir) if c.name != mem]
    for res in probe_all(cands, timeout):
        probes.append(res)
        if res.ok:
            return DisplayChoice(res.name, "auto", None, probes)
    if not probes:
        why = "no display found ($DISPLAY is not set, no X server socket in %s, no Wayland " \
              "socket)" % x11_dir
    else:
        why = "no display works (%s)" % "; ".join(p.describe() for p in probes)
    return DisplayChoice(HEADLESS, "auto", why, probes)


def main(argv: list[str] | None = None) -> int:
    """``python -m tui.core.displays [NAME ...]``: probe and print (for scripts and support)."""
    args = sys.argv[1:] if argv is None else argv
    names = args or [c.name for c in discover()]
    for r in probe_all(names):
        print("%-20s %-3s %s" % (r.name, "ok" if r.ok else "no", r.detail))
    return 0


if __name__ == "__main__":
    sys.exit(main())
