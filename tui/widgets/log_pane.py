"""A role's log: Textual's fast ``Log`` with error lines in red and search matches marked."""
from __future__ import annotations

import re

from rich.highlighter import Highlighter
from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual.widgets import Log

from tui.core.logs import is_error_line

MAX_LINES = 10000


class LogHighlighter(Highlighter):
    def __init__(self) -> None:
        self.search: re.Pattern[str] | None = None

    def highlight(self, text: Text) -> None:
        plain = text.plain
        if is_error_line(plain):
            text.stylize("red")
        if self.search is not None:
            for m in self.search.finditer(plain):
                if m.end() > m.start():
                    text.stylize("bold black on yellow", m.start(), m.end())


class LogPane(Log):
    """Lines are handed in by the screen (drained from a follower); nothing is read here."""

    DEFAULT_CSS = """
    LogPane { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(highlight=True, max_lines=MAX_LINES, auto_scroll=True, id=id)
        self.highlighter = LogHighlighter()
        self.current: int | None = None

    def set_search(self, pattern: re.Pattern[str] | None) -> None:
        self.highlighter.search = pattern
        self._render_line_cache.clear()
        self.refresh()

    def show_line(self, index: int) -> None:
        """Mark line ``index`` and scroll it to the middle of the pane."""
        self.current = index
        self._render_line_cache.clear()
        self.scroll_to(y=max(0, index - self.size.height // 2), animate=False, immediate=True)
        self.refresh()

    def _render_line_strip(self, y: int, rich_style: Style) -> Strip:
        strip = super()._render_line_strip(y, rich_style)
        if y == self.current:
            strip = strip.apply_style(Style(bgcolor="grey30", bold=True))
        return strip
