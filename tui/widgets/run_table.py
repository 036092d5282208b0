"""The runs list: one line per run, a fixed header, a cursor; redraws only what changes.

Line-API widgets rather than a ``DataTable``: with a thousand runs and fifty of them live, the
runs screen must stay cheap to redraw and write little to the terminal when idle. On every update
the text of each visible cell is compared with what is on screen and only rows with changed
cells are marked dirty. Textual writes a dirty line of a widget from the widget's left edge, so
the table is two widgets side by side: the run's identity (name, backend, status, roles), which
rarely changes, and its live numbers (step, metric, sparkline, checkpoint, age), which do; a
ticking step counter rewrites only the right-hand part of its line.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.events import Click, MouseScrollDown, MouseScrollUp
from textual.app import ComposeResult
from textual.geometry import Region
from textual.message import Message
from textual.widget import Widget
from textual.strip import Strip

from tui.core.run_state import roles_text
from tui.core.runs_list_model import RunRow

from .formatting import (age, end_ellipsis, human_int, num, run_name, sparkline,
                         status_style)
from .run_colours import run_style


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
                 Col("roles", "ROLES", 6), Col("age", "AGE", 4, True),
                 Col("step", "STEP", 7, True), Col("value", "HEADLINE", 9, True),
                 Col("spark", "", 16), Col("ckpt", "CHECKPOINT", 20)]
    elif width >= 100:
        fixed = [Col("profile", "PROFILE", 18), Col("status", "STATUS", 10),
                 Col("roles", "ROLES", 5), Col("age", "AGE", 4, True),
                 Col("step", "STEP", 6, True), Col("value", "HEADLINE", 8, True),
                 Col("spark", "", 10), Col("ckpt", "CKPT", 7, True)]
    else:
        fixed = [Col("backend", "BACKEND", 7), Col("status", "STATUS", 10),
                 Col("roles", "ROLES", 5), Col("age", "AGE", 3, True),
                 Col("step", "STEP", 6, True), Col("value", "METRIC", 6, True),
                 Col("spark", "", 5), Col("ckpt", "CKPT", 5, True)]
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
        return roles_text(row.roles_alive, row.roles_total, row.viewers_alive)
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


LEFT = ("name", "profile", "backend", "status", "roles", "age")  # what rarely changes
_CELL = Style()


class _Side(Widget):
    """One side of the table; all state lives in the :class:`RunTable`."""

    DEFAULT_CSS = """
    _Side { height: 1fr; }
    """

    def __init__(self, table: "RunTable", side: str) -> None:
        super().__init__(classes="runs-" + side)
        self.table = table
        self.side = side

    def render_line(self, y: int) -> Strip:
        return self.table._render_side(self.side, y, self.size.width)

    def on_click(self, event: Click) -> None:
        self.table._clicked(event.y, event.chain)


class RunTable(Widget, can_focus=True):
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
    RunTable { height: 1fr; layout: horizontal; }
    RunTable > .runs-right { width: 1fr; }
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
        self.top = 0                                  # index of the first row on screen
        self._cols: list[Col] = layout_columns(80)
        self._split = 0                               # x where the right side starts
        self._shown: dict[tuple[str, int], tuple[str, tuple[str, ...], str]] = {}
        self.empty_text = "no runs yet"
        self._now = clock()
        self.marks: dict[str, int] = {}             # marked for comparison -> colour index

    def compose(self) -> ComposeResult:
        yield _Side(self, "left")
        yield _Side(self, "right")

    @property
    def _left(self) -> _Side:
        return self.query_one(".runs-left", _Side)

    @property
    def _right(self) -> _Side:
        return self.query_one(".runs-right", _Side)

    @property
    def page(self) -> int:
        return max(1, self.size.height - 1)

    # ------------------------------------------------------------------ data in
    def set_rows(self, rows: tuple[RunRow, ...]) -> None:
        """New rows: structural changes redraw everything, value changes only their lines."""
        names_before = [r.name for r in self.rows]
        keep = self.current_name
        self.rows = rows
        names = [r.name for r in rows]
        if names != names_before:
            if keep is not None and keep in names:
                self.cursor = names.index(keep)
            self.cursor = max(0, min(self.cursor, len(rows) - 1))
            self._scroll_into_view()
            self._redraw()
            if self.current_name != keep:
                self.post_message(self.Highlighted(self.current_name))
            return
        self.refresh_cells()

    def _redraw(self) -> None:
        self._shown.clear()
        self._now = self.clock()
        for side in self.query(_Side):
            side.refresh()

    def refresh_cells(self) -> None:
        """Mark dirty the part of each visible line whose text changed (ages included)."""
        if not self.rows:
            return
        if not self._shown:
            self._redraw()
            return
        now = self._now = self.clock()
        for side in self.query(_Side):
            cols = self._side_cols(side.side)
            for y in range(1, self.size.height):
                i = self.top + y - 1
                if i >= len(self.rows):
                    break
                row = self.rows[i]
                shown = self._shown.get((side.side, y))
                if shown is None or shown[0] != row.name or shown[2] != row.status:
                    side.refresh(Region(0, y, side.size.width, 1))
                    continue
                cells = tuple(cell_text(row, c, now) for c in cols)
                changed = [k for k, (new, old) in enumerate(zip(cells, shown[1])) if new != old]
                if changed:
                    last = cols[changed[-1]]
                    x0 = 0 if side.side == "left" else self._split
                    side.refresh(Region(0, y, last.x + last.width - x0, 1))

    def _side_cols(self, side: str) -> list[Col]:
        return [c for c in self._cols if (c.key in LEFT) == (side == "left")]

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
        return {r.name for r in self.rows[self.top:self.top + self.page]}

    def set_marks(self, marks: dict[str, int]) -> None:
        """Runs marked for comparison (name -> colour index): their rows are redrawn."""
        changed = set(marks) ^ set(self.marks) | {n for n in marks
                                                  if self.marks.get(n) != marks[n]}
        self.marks = dict(marks)
        for i, r in enumerate(self.rows[self.top:self.top + self.page]):
            if r.name in changed:
                self._refresh_row(self.top + i)

    def select_name(self, name: str) -> bool:
        for i, r in enumerate(self.rows):
            if r.name == name:
                self._move(i)
                return True
        return False

    # ------------------------------------------------------------------ rendering
    def on_resize(self) -> None:
        self._cols = layout_columns(self.size.width)
        right = [c for c in self._cols if c.key not in LEFT]
        self._split = right[0].x - 1 if right else self.size.width
        self._left.styles.width = self._split
        self._scroll_into_view()
        self._redraw()

    def _render_side(self, side: str, y: int, width: int) -> Strip:
        cols = self._side_cols(side)
        x0 = 0 if side == "left" else self._split
        if y == 0:
            return self._header(cols, x0, width)
        i = self.top + y - 1
        if i >= len(self.rows):
            if i == 0 and not self.rows and side == "left":
                return Strip([Segment(("  " + self.empty_text).ljust(width),
                                      Style(dim=True))])
            return Strip.blank(width)
        row = self.rows[i]
        cells = tuple(cell_text(row, c, self._now) for c in cols)
        self._shown[(side, y)] = (row.name, cells, row.status)   # what this line now shows
        texts = dict(zip((c.key for c in cols), cells))
        selected = i == self.cursor
        base = Style(bgcolor="grey23") if selected and not self.has_focus else (
            Style(bgcolor="dark_blue", bold=True) if selected else Style())
        segs = []
        x = x0
        if side == "left":
            mark = self.marks.get(row.name)
            style0 = base if mark is None else base + run_style(mark) + Style(bold=True)
            segs.append(Segment("▶" if selected else ("●" if mark is not None else " "),
                                style0))
            x = 1
        for c in cols:
            if c.x > x:
                segs.append(Segment(" " * (c.x - x), base))
            text = texts[c.key]
            style = base
            if c.key == "status":
                style = base + Style.parse(status_style(row.status) or "none")
            elif c.key == "spark" and not row.live:
                style = base + Style(color="grey50")
            elif c.key in ("age", "ckpt", "backend", "profile", "roles") and not selected:
                style = base + Style(dim=True)
            segs.append(Segment(text.rjust(c.width) if c.right else text.ljust(c.width), style))
            x = c.x + c.width
        # neighbours of one style as one segment: a changed row costs the terminal one style
        # code per style, not one per cell
        return Strip(Segment.simplify(segs)).crop_extend(0, width, base)

    def _header(self, cols: list[Col], x0: int, width: int) -> Strip:
        style = Style(bold=True, color="grey70")
        segs = []
        x = x0 if x0 else 1
        if not x0:
            segs.append(Segment(" "))
        for c in cols:
            if c.x > x:
                segs.append(Segment(" " * (c.x - x)))
            t = c.title[:c.width]
            segs.append(Segment(t.rjust(c.width) if c.right else t.ljust(c.width), style))
            x = c.x + c.width
        if x0 and len(self.rows) > self.page:   # where we are in a long list
            pos = " %d/%d" % (self.cursor + 1, len(self.rows))
            segs = [Segment(s.text, s.style) for s in segs]
            text = "".join(s.text for s in segs).ljust(width)
            return Strip([Segment(text[:max(0, width - len(pos))], style),
                          Segment(pos, Style(color="grey50"))]).crop_extend(0, width, Style())
        return Strip(segs).crop_extend(0, width, Style())

    # ------------------------------------------------------------------ keys & mouse
    def _scroll_into_view(self) -> None:
        page = self.page
        top = self.top
        if self.cursor < top:
            top = self.cursor
        elif self.cursor >= top + page:
            top = self.cursor - page + 1
        top = max(0, min(top, max(0, len(self.rows) - page)))
        if top != self.top:
            self.top = top
            self._shown.clear()

    def _move(self, index: int) -> None:
        if not self.rows:
            return
        index = max(0, min(index, len(self.rows) - 1))
        old, old_top = self.cursor, self.top
        self.cursor = index
        self._scroll_into_view()
        if self.top != old_top:
            self._redraw()
        else:
            for i in (old, index):
                self._refresh_row(i)
            if len(self.rows) > self.page:
                self._right.refresh(Region(0, 0, self._right.size.width, 1))
        if old != index:
            self.post_message(self.Highlighted(self.current_name))

    def _refresh_row(self, i: int) -> None:
        y = i - self.top + 1
        if 1 <= y < self.size.height:
            for side in self.query(_Side):
                self._shown.pop((side.side, y), None)
                side.refresh(Region(0, y, side.size.width, 1))

    def _scroll(self, delta: int) -> None:
        top = max(0, min(self.top + delta, max(0, len(self.rows) - self.page)))
        if top != self.top:
            self.top = top
            self.cursor = max(top, min(self.cursor, top + self.page - 1))
            self._redraw()
            self.post_message(self.Highlighted(self.current_name))

    def action_cursor(self, delta: int) -> None:
        self._move(self.cursor + delta)

    def action_page(self, delta: int) -> None:
        self._move(self.cursor + delta * max(1, self.page - 1))

    def action_jump(self, where: int) -> None:
        self._move(0 if where == 0 else len(self.rows) - 1)

    def on_focus(self) -> None:
        self._refresh_row(self.cursor)

    def on_blur(self) -> None:
        self._refresh_row(self.cursor)

    def on_mouse_scroll_down(self, event: MouseScrollDown) -> None:
        self._scroll(3)

    def on_mouse_scroll_up(self, event: MouseScrollUp) -> None:
        self._scroll(-3)

    def _clicked(self, y: int, chain: int) -> None:
        if y < 1:
            return
        i = self.top + y - 1
        if 0 <= i < len(self.rows):
            if i == self.cursor and chain >= 2:
                self.post_message(self.Selected(self.rows[i].name))
            self.focus()
            self._move(i)
