"""The runs list: one line per run, a fixed header, a cursor; redraws only the cells that change.

A Line-API widget rather than a ``DataTable``: with a thousand runs and fifty of them live, the
runs screen must stay cheap to redraw and write little to the terminal when idle. On every update
the text of each visible cell is compared with what is on screen and only changed cells are
marked dirty, so a step counter that ticks rewrites a few characters, not the screen.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.core.run_view_model import RunRow

from .formatting import (age, end_ellipsis, human_int, num, run_name, sparkline,
                         status_style)


@dataclass(frozen=True)
class Col:
    key: str
    title: str
    width: int
    right: bool = False
    x: int = 0


def layout_columns(width: int) -> list[Col]:
    """Columns for a terminal ``width`` cells wide; the run name takes what is left."""
    if width >= 140:
        fixed = [Col("profile", "PROFILE", 26), Col("status", "STATUS", 11),
                 Col("roles", "ROLES", 6), Col("step", "STEP", 7, True),
                 Col("value", "HEADLINE", 9, True), Col("spark", "", 16),
                 Col("ckpt", "CHECKPOINT", 20), Col("age", "AGE", 4, True)]
    elif width >= 100:
        fixed = [Col("profile", "PROFILE", 18), Col("status", "STATUS", 10),
                 Col("roles", "ROLES", 5), Col("step", "STEP", 6, True),
                 Col("value", "HEADLINE", 8, True), Col("spark", "", 10),
                 Col("ckpt", "CKPT", 7, True), Col("age", "AGE", 4, True)]
    else:
        fixed = [Col("backend", "BACKEND", 7), Col("status", "STATUS", 10),
                 Col("roles", "ROLES", 5), Col("step", "STEP", 6, True),
                 Col("value", "METRIC", 7, True), Col("spark", "", 6),
                 Col("ckpt", "CKPT", 6, True), Col("age", "AGE", 3, True)]
    name_w = max(12, width - 1 - sum(c.width + 1 for c in fixed))
    cols = [Col("name", "RUN", name_w)] + fixed
    out, x = [], 1
    for c in cols:
        out.append(Col(c.key, c.title, c.width, c.right, x))
        x += c.width + 1
    return out


def cell_text(row: RunRow, col: Col, now: float) -> str:
    k = col.key
    if k == "name":
        return run_name(row.name, col.width)
    if k == "profile":
        return end_ellipsis(row.profile or row.backend, col.width)
    if k == "backend":
        return end_ellipsis(row.backend or row.profile.split("/", 1)[0], col.width)
    if k == "status":
        return end_ellipsis(row.status_text, col.width)
    if k == "roles":
        text = "%d/%d" % (row.roles_alive, row.roles_total)
        if row.viewers_alive:
            text += "+%d" % row.viewers_alive
        return text
    if k == "step":
        return human_int(row.step)
    if k == "value":
        return num(row.headline_value, col.width)
    if k == "spark":
        return sparkline(row.spark, col.width)
    if k == "ckpt":
        if row.checkpoint is None:
            return ""
        if col.width >= 18:
            return end_ellipsis(row.checkpoint, col.width)
        return human_int(row.checkpoint_step) if row.checkpoint_step is not None else "latest"
    if k == "age":
        return age(now - row.created) if row.created is not None else ""
    return ""


class RunTable(ScrollView, can_focus=True):
    """Rows of :class:`RunRow`; ``Highlighted``/``Selected`` messages name the run."""

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="runs.cursor_up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="runs.cursor_down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="runs.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="runs.page_down"),
        Binding("home,g", "jump(0)", "First", show=False, id="runs.first"),
        Binding("end,G", "jump(-1)", "Last", show=False, id="runs.last"),
    ]
    DEFAULT_CSS = """
    RunTable { height: 1fr; scrollbar-size-vertical: 1; }
    """

    class Highlighted(Message):
        def __init__(self, name: str | None) -> None:
            self.name = name
            super().__init__()

    class Selected(Message):
        def __init__(self, name: str) -> None:
            self.name = name
            super().__init__()

    def __init__(self, clock: Callable[[], float], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.rows: tuple[RunRow, ...] = ()
        self.cursor = 0
        self._cols: list[Col] = layout_columns(80)
        self._shown: dict[int, tuple[str, tuple[str, ...], str]] = {}  # y -> (name, cells, status)
        self.empty_text = "no runs yet"
        self._now = clock()

    # ------------------------------------------------------------------ data in
    def set_rows(self, rows: tuple[RunRow, ...]) -> None:
        """New rows: structural changes redraw everything, value changes only their cells."""
        names_before = [r.name for r in self.rows]
        keep = self.current_name
        self.rows = rows
        names = [r.name for r in rows]
        if names != names_before:
            if keep is not None and keep in names:
                self.cursor = names.index(keep)
            self.cursor = max(0, min(self.cursor, len(rows) - 1))
            self.virtual_size = Size(self.size.width, len(rows) + 1)
            self._shown.clear()
            self._now = self.clock()
            self.refresh()
            if self.current_name != keep:
                self.post_message(self.Highlighted(self.current_name))
            return
        self.refresh_cells()

    def refresh_cells(self) -> None:
        """Mark dirty the visible cells whose text changed (ages included)."""
        if not self._shown:
            self.refresh()
            return
        now = self._now = self.clock()
        top = int(self.scroll_offset.y)
        regions = []
        for y in range(1, self.size.height):
            i = top + y - 1
            if i >= len(self.rows):
                break
            row = self.rows[i]
            cells = tuple(cell_text(row, c, now) for c in self._cols)
            shown = self._shown.get(y)
            if shown is None or shown[0] != row.name:
                regions.append(Region(0, y, self.size.width, 1))
                continue
            for c, new, old in zip(self._cols, cells, shown[1]):
                if new != old:
                    regions.append(Region(c.x, y, c.width, 1))
            if row.status != shown[2]:
                regions.append(Region(0, y, self.size.width, 1))
        if regions:
            self.refresh(*regions)

    # ------------------------------------------------------------------ queries
    @property
    def current(self) -> RunRow | None:
        if 0 <= self.cursor < len(self.rows):
            return self.rows[self.cursor]
        return None

    @property
    def current_name(self) -> str | None:
        c = self.current
        return c.name if c is not None else None

    def visible_names(self) -> set[str]:
        top = int(self.scroll_offset.y)
        h = max(1, self.size.height - 1)
        return {r.name for r in self.rows[top:top + h]}

    def select_name(self, name: str) -> bool:
        for i, r in enumerate(self.rows):
            if r.name == name:
                self._move(i)
                return True
        return False

    # ------------------------------------------------------------------ rendering
    def on_resize(self) -> None:
        self._cols = layout_columns(self.size.width)
        self.virtual_size = Size(self.size.width, len(self.rows) + 1)
        self._shown.clear()
        self.refresh()

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self._shown.clear()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            return self._header(width)
        i = int(self.scroll_offset.y) + y - 1
        if i >= len(self.rows):
            if i == 0 and not self.rows:
                return Strip([Segment(("  " + self.empty_text).ljust(width), Style(dim=True))])
            return Strip.blank(width)
        row = self.rows[i]
        now = self._now
        cells = tuple(cell_text(row, c, now) for c in self._cols)
        self._shown[y] = (row.name, cells, row.status)
        selected = i == self.cursor
        base = Style(bgcolor="grey23") if selected and not self.has_focus else (
            Style(bgcolor="dark_blue", bold=True) if selected else Style())
        segs = [Segment("▶" if selected else " ", base)]
        for c, text in zip(self._cols, cells):
            style = base
            if c.key == "status":
                style = base + Style.parse(status_style(row.status) or "none")
            elif c.key == "spark":
                style = base + Style(color="green" if row.live else "grey50")
            elif c.key in ("age", "ckpt", "backend", "profile", "roles") and not selected:
                style = base + Style(dim=True)
            segs.append(Segment(text.rjust(c.width) if c.right else text.ljust(c.width), style))
            segs.append(Segment(" ", base))
        strip = Strip(segs)
        return strip.crop_extend(0, width, base)

    def _header(self, width: int) -> Strip:
        style = Style(bold=True, underline=False, color="grey70")
        segs = [Segment(" ")]
        for c in self._cols:
            t = c.title[:c.width]
            segs.append(Segment(t.rjust(c.width) if c.right else t.ljust(c.width), style))
            segs.append(Segment(" "))
        return Strip(segs).crop_extend(0, width, Style())

    # ------------------------------------------------------------------ keys & mouse
    def _move(self, index: int) -> None:
        if not self.rows:
            return
        index = max(0, min(index, len(self.rows) - 1))
        old = self.cursor
        self.cursor = index
        top = int(self.scroll_offset.y)
        h = max(1, self.size.height - 1)
        if index < top:
            self.scroll_to(y=index, animate=False, immediate=True)
        elif index >= top + h:
            self.scroll_to(y=index - h + 1, animate=False, immediate=True)
        for i in (old, index):
            y = i - int(self.scroll_offset.y) + 1
            if 1 <= y < self.size.height:
                self.refresh(Region(0, y, self.size.width, 1))
        if old != index:
            self.post_message(self.Highlighted(self.current_name))

    def action_cursor(self, delta: int) -> None:
        self._move(self.cursor + delta)

    def action_page(self, delta: int) -> None:
        self._move(self.cursor + delta * max(1, self.size.height - 2))

    def action_jump(self, where: int) -> None:
        self._move(0 if where == 0 else len(self.rows) - 1)

    def on_focus(self) -> None:
        self._refresh_cursor_line()

    def on_blur(self) -> None:
        self._refresh_cursor_line()

    def _refresh_cursor_line(self) -> None:
        y = self.cursor - int(self.scroll_offset.y) + 1
        if 1 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def on_click(self, event: Click) -> None:
        if event.y < 1:
            return
        i = int(self.scroll_offset.y) + event.y - 1
        if 0 <= i < len(self.rows):
            if i == self.cursor and event.chain >= 2:
                self.post_message(self.Selected(self.rows[i].name))
            self._move(i)
