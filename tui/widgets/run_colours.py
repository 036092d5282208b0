"""One colour per compared run: its mark in the runs list, its curve and its legend entry.

Colours that stay apart in 256 colours and truecolor, on a dark background; after the
eighth run they repeat (the legend still names every run)."""
from __future__ import annotations

from rich.style import Style

PALETTE = ("bright_cyan", "bright_magenta", "bright_yellow", "bright_green", "dark_orange",
           "bright_blue", "bright_red", "white")


def run_colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def run_style(index: int) -> Style:
    return Style(color=run_colour(index))
