"""A ``DataTable`` filled from keyed rows: cells that changed are updated in place, and the cursor
stays on the same row when rows come and go."""
from __future__ import annotations

from typing import Sequence

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

Cell = str | Text


class KeyedTable(DataTable):
    BINDINGS = [
        Binding("home,g", "scroll_top", "First row", show=False, id="table.first"),
        Binding("end,G", "scroll_bottom", "Last row", show=False, id="table.last"),
    ]
    DEFAULT_CSS = """
    KeyedTable { height: 1fr; }
    """

    def __init__(self, columns: Sequence[tuple[str, str, int | None]], *,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=False)
        self._spec = list(columns)
        self._keys: list[str] = []
        self._cells: dict[str, tuple[Cell, ...]] = {}

    def on_mount(self) -> None:
        for key, label, width in self._spec:
            self.add_column(label, key=key, width=width)

    def set_columns(self, columns: Sequence[tuple[str, str, int | None]]) -> None:
        """Other columns (the compare table's differing parameters): rows are refilled."""
        if [c[0] for c in columns] == [c[0] for c in self._spec] and self.columns:
            return
        self.clear(columns=True)
        self._spec = list(columns)
        self._keys = []
        self._cells = {}
        for key, label, width in self._spec:
            self.add_column(label, key=key, width=width)

    @property
    def current_key(self) -> str | None:
        if not self._keys or self.cursor_row < 0 or self.cursor_row >= len(self._keys):
            return None
        return self._keys[self.cursor_row]

    def set_rows(self, rows: Sequence[tuple[str, Sequence[Cell]]]) -> None:
        keys = [k for k, _ in rows]
        if keys == self._keys:
            for key, cells in rows:
                old = self._cells.get(key, ())
                cells = tuple(cells)
                if cells != old:
                    before = old or (None,) * len(cells)
                    for (col, _, _), new, prev in zip(self._spec, cells, before):
                        if new != prev:
                            self.update_cell(key, col, new)
                    self._cells[key] = cells
            return
        keep = self.current_key
        self.clear()
        self._keys = keys
        self._cells = {}
        for key, cells in rows:
            self.add_row(*cells, key=key)
            self._cells[key] = tuple(cells)
        if keep in keys:
            self.move_cursor(row=keys.index(keep), animate=False)
