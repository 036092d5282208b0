"""What the terminal can show: kitty graphics, sixel, or half-block characters.

Decided from the environment only (asking the terminal would mean reading its answer from
stdin, which the TUI owns): ``$PITWALL_GRAPHICS`` (``kitty``, ``sixel``, ``halfblock``) wins;
inside tmux or screen it is half blocks (graphics do not pass through reliably; the TUI's
:func:`tui_graphics` makes one exception, below); kitty, WezTerm,
Ghostty and Konsole speak the kitty protocol; foot, mlterm, contour and iTerm2 speak sixel;
anything else gets half blocks. ``$COLORTERM`` (``truecolor``/``24bit``) says whether half
blocks may use 24-bit colour (else the 256-colour cube).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

KINDS = ("kitty", "sixel", "halfblock")
_KITTY_PROGRAMS = ("wezterm", "ghostty")
_SIXEL_PROGRAMS = ("iterm.app", "mlterm", "contour")


@dataclass(frozen=True)
class Graphics:
    kind: str          # kitty | sixel | halfblock
    truecolor: bool
    reason: str        # why this was chosen (shown in `pitwall preview --explain`)


def detect(env: Mapping[str, str] | None = None) -> Graphics:
    env = os.environ if env is None else env
    term = env.get("TERM", "").lower()
    program = env.get("TERM_PROGRAM", "").lower()
    truecolor = env.get("COLORTERM", "").lower() in ("truecolor", "24bit") or \
        "kitty" in term or program in _KITTY_PROGRAMS + ("iterm.app",)
    forced = env.get("PITWALL_GRAPHICS", "").strip().lower()
    if forced:
        if forced not in KINDS:
            return Graphics("halfblock", truecolor, "PITWALL_GRAPHICS=%r is not one of %s"
                            % (forced, ", ".join(KINDS)))
        return Graphics(forced, truecolor, "PITWALL_GRAPHICS=%s" % forced)
    if env.get("TMUX") or term.startswith("screen") or term.startswith("tmux"):
        return Graphics("halfblock", truecolor, "inside tmux/screen")
    if "kitty" in term or env.get("KITTY_WINDOW_ID"):
        return Graphics("kitty", True, "kitty terminal")
    if program in _KITTY_PROGRAMS or env.get("KONSOLE_VERSION"):
        return Graphics("kitty", True, "%s speaks the kitty graphics protocol"
                        % (program or "Konsole"))
    if term.startswith("foot") or program in _SIXEL_PROGRAMS or "mlterm" in term:
        return Graphics("sixel", truecolor, "%s speaks sixel" % (program or term))
    return Graphics("halfblock", truecolor, "no known graphics protocol for TERM=%s" %
                    (term or "?"))


def tui_graphics(env: Mapping[str, str] | None = None) -> Graphics:
    """What the TUI draws pictures with: :func:`detect`, except that inside tmux with
    ``allow-passthrough`` on, on a kitty-protocol terminal (the client's, as tmux reports it),
    pictures use the kitty protocol with unicode placeholders (tmux draws the placeholders as
    text; the picture data passes through, wrapped for tmux)."""
    env = os.environ if env is None else env
    g = detect(env)
    if not env.get("TMUX") or env.get("PITWALL_GRAPHICS", "").strip():
        return g
    outer = tmux_passthrough_terminal(env)
    if outer is None:
        return Graphics("halfblock", g.truecolor, "inside tmux (allow-passthrough is off)")
    if "kitty" in outer or outer.startswith(("wezterm", "ghostty")):
        return Graphics("kitty", True, "inside tmux with passthrough, on %s" % outer)
    return Graphics("halfblock", g.truecolor, "inside tmux, on %s (no kitty protocol)"
                    % (outer or "an unknown terminal"))


def tmux_passthrough_terminal(env: Mapping[str, str]) -> str | None:
    """Inside tmux: the client's terminal name when tmux passes escape sequences through
    (``allow-passthrough`` on or all; "" when no client is attached), else None."""
    import shutil
    import subprocess

    tmux = shutil.which("tmux")
    if tmux is None:
        return None
    try:
        on = subprocess.run([tmux, "show-options", "-gv", "allow-passthrough"],
                            capture_output=True, text=True, timeout=2, env=dict(env))
        if on.returncode != 0 or on.stdout.strip() not in ("on", "all"):
            return None
        name = subprocess.run([tmux, "display-message", "-p", "#{client_termname}"],
                              capture_output=True, text=True, timeout=2, env=dict(env))
    except (OSError, subprocess.SubprocessError):
        return None
    return name.stdout.strip().lower()      # "": on, but no client (its terminal unknown)
