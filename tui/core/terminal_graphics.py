"""What the terminal can show: kitty graphics, sixel, or half-block characters.

Decided from the environment only (asking the terminal would mean reading its answer from
stdin, which the TUI owns): ``$PITWALL_GRAPHICS`` (``kitty``, ``sixel``, ``halfblock``) wins;
inside tmux or screen it is half blocks (graphics do not pass through reliably); kitty, WezTerm,
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
