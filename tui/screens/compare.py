"""Runs compared: chosen tags overlaid (one colour per run, a legend), and a sortable table of
the parameters that differ between them with each run's final and best headline value.

The curves come from the metric store (:func:`tui.core.plot_window.plot_series`, the same
smoothing, x axis, zoom and log-y keys as a run's metrics tab); the table from the poller's
:class:`~tui.core.compare_model.CompareSnapshot`. Everything fits 80x24 and works from the
keyboard.
"""
from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import SelectionList, Static, TabbedContent, TabPane
from textual.widgets.selection_list import Selection

from tui.context import AppContext, context_of
from tui.core.compare_model import CompareSnapshot, sort_rows
from tui.core.plot_window import plot_series
from tui.widgets.formatting import human_int, num, run_name
from tui.widgets.key_footer import KeyFooter
from tui.widgets.keyed_table import KeyedTable
from tui.widgets.line_plot import LinePlot, PlotData
from tui.widgets.run_colours import run_colour, run_style

from .panes.metrics import default_tags
from .plot_controls import PlotControls, plot_bindings

SORTS = ("best", "final", "name", "status", "step")   # then each differing parameter


class CompareScreen(PlotControls, Screen):
    BINDINGS = [
        Binding("escape", "back", "Back", id="compare.back"),
        Binding("1", "tab('curves')", "Curves", show=False, id="compare.curves"),
        Binding("2", "tab('table')", "Table", show=False, id="compare.table"),
        *plot_bindings("compare"),
        Binding("s", "sort(1)", "Sort", id="compare.sort"),
        Binding("S", "sort(-1)", "Sort back", show=False, id="compare.sort_back"),
        Binding("r", "reverse", "Reverse", show=False, id="compare.reverse"),
        Binding("enter", "open", "Open run", show=False, id="compare.open"),
    ]

    def __init__(self, paths: list[Path], colours: dict[str, int]) -> None:
        super().__init__(id="compare-screen")
        self.paths = [Path(p) for p in paths]
        self.colours = {p.name: colours.get(p.name, i) for i, p in enumerate(self.paths)}
        self.smoothing = 0.6
        self.chosen: list[str] | None = None
        self.sort_by = "best"
        self.reverse = True               # the best first
        self._tags: tuple[str, ...] = ()
        self._plots: dict[str, LinePlot] = {}
        self._plot_keys: dict[str, object] = {}
        self._version = -1
        self._texts: dict[str, str] = {}
        self._table_key: object = None

    @property
    def papp(self) -> AppContext:
        return context_of(self.app)

    def compose(self) -> ComposeResult:
        yield Static("", id="compare-title", classes="title-bar")
        yield Static("", id="compare-legend")
        with TabbedContent(initial="curves", id="compare-tabs"):
            with TabPane("1 Curves", id="curves"):
                yield Static("", id="compare-info")
                with Horizontal(id="compare-body"):
                    yield SelectionList[str](id="compare-tags")
                    yield VerticalScroll(id="compare-plots", can_focus=True)
            with TabPane("2 Table", id="table"):
                yield Static("", id="compare-sort")
                yield KeyedTable([("run", "RUN", 22)], id="compare-table")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.papp.model.compare_runs(self.paths)
        self._legend()
        self.call_after_refresh(self._ready)

    def _ready(self) -> None:
        self.query_one("#compare-tags").display = False
        self.query_one("#compare-plots").focus()
        self.refresh_from_model()

    def on_unmount(self) -> None:
        self.papp.model.compare_runs([])

    # ------------------------------------------------------------------ rendering
    def _say(self, selector: str, text: str) -> None:
        if self._texts.get(selector) != text:
            self._texts[selector] = text
            self.query_one(selector, Static).update(text)

    def _legend(self) -> None:
        """One coloured dot and name per run, on at most two lines."""
        width = max(20, self.size.width or 80) - 2
        per = max(12, min(30, width // max(1, min(len(self.paths), 3)) - 3))
        text, line, lines = Text(), 0, 1
        for p in self.paths:
            label = run_name(p.name, per)
            n = len(label) + 4
            if line + n > width and line:
                if lines == 2:
                    text.append("…", style="dim")
                    break
                text.append("\n")
                lines, line = lines + 1, 0
            text.append("● ", style=run_style(self.colours[p.name]))
            text.append(label + "  ")
            line += n
        key = text.plain
        if self._texts.get("#compare-legend") != key:
            self._texts["#compare-legend"] = key
            self.query_one("#compare-legend", Static).update(text)

    def refresh_from_model(self) -> None:
        if not self.is_attached:
            return
        try:
            self._refresh()
        except NoMatches:       # the tabs are not mounted yet, or the screen is going away
            pass

    def _refresh(self) -> None:
        snap = self.papp.model.comparison
        if snap is not None and snap.version != self._version:
            self._version = snap.version
            if snap.tags != self._tags:
                self._tags = snap.tags
                if self.chosen is None and snap.tags:
                    self.chosen = default_tags(list(snap.tags), snap.headline)
                self._sync_tag_list()
            self._table(snap)
        self._title(snap)
        self._sync_plots()
        for tag, plot in self._plots.items():
            self._draw(tag, plot)

    def _title(self, snap: CompareSnapshot | None) -> None:
        text = "[b]Compare[/b]  %d runs" % len(self.paths)
        if snap is not None and snap.headline:
            text += "   headline [b]%s[/b]" % snap.headline
        if snap is not None:
            text += "   %d params differ, %d same" % (len(snap.param_keys), snap.same)
        self._say("#compare-title", text)
        self._say("#compare-info", self.settings_text(len(self._tags)))

    def _sync_plots(self) -> None:
        want = [t for t in (self.chosen or []) if t in self._tags]
        if want == list(self._plots) and (want or self._plots or self._texts.get("empty")):
            return
        box = self.query_one("#compare-plots", VerticalScroll)
        for plot in self._plots.values():
            plot.remove()
        box.remove_children(".metrics-empty")
        self._plot_keys.clear()
        self._plots = {t: LinePlot(name=t, classes="metric-plot") for t in want}
        if want:
            box.mount_all(list(self._plots.values()))
            self._texts.pop("empty", None)
        else:
            note = "no metrics yet" if not self._tags else "no tag chosen: press t"
            box.mount(Static("[dim]%s[/dim]" % note, classes="metrics-empty"))
            self._texts["empty"] = note
        box.set_class(len(want) == 1, "one-plot")

    def _draw(self, tag: str, plot: LinePlot) -> None:
        store = self.papp.model.store
        keys = [(p.name, tag) for p in self.paths]
        cols = plot.dot_columns
        key = (tuple(store.tag_version(r, t) for r, t in keys), self.smoothing, self.x_mode,
               cols, plot.size.height, self.window, self.log_y)
        if self._plot_keys.get(tag) == key:
            return
        self._plot_keys[tag] = key
        view = plot_series(store, keys, cols, x=self.x_mode, smoothing=self.smoothing,
                           window=self.window)
        if view is None:
            plot.set_data(PlotData(title=tag, x_mode=self.x_mode))
            return
        overlays = [(sv.main, run_style(self.colours[sv.key[0]])) for sv in view.series]
        stats = [sv.stats for sv in view.series if sv.stats is not None]
        top = None
        if stats:   # the runs' range in the window, and the best last value
            from tui.core.plot_window import WindowStats

            top = WindowStats(min(s.min for s in stats), max(s.max for s in stats),
                              max(s.last for s in stats), sum(s.points for s in stats))
        plot.set_data(PlotData(
            title="%s  %d runs" % (tag, len(view.series)), x_mode=self.x_mode,
            overlays=overlays, smoothing=self.smoothing, stats=top, log_y=self.log_y,
            zoom=self.window.describe() if self.window.zoomed else ""))

    def _redraw(self) -> None:
        self._plot_keys.clear()
        self.refresh_from_model()

    def on_resize(self) -> None:
        self._legend()
        self._redraw()

    # ------------------------------------------------------------------ the table
    def _table(self, snap: CompareSnapshot) -> None:
        table = self.query_one("#compare-table", KeyedTable)
        cols = [("run", "RUN", 25), ("status", "STATUS", 10)] + \
            [(k, k, max(6, min(14, len(k)))) for k in snap.param_keys] + \
            [("final", "FINAL", 9), ("best", "BEST", 9), ("step", "STEP", 7)]
        table.set_columns(cols)
        if self.sort_by not in list(SORTS) + list(snap.param_keys):
            self.sort_by = "best"
        rows = sort_rows(snap.rows, self.sort_by, self.reverse)
        out = []
        for r in rows:
            colour = run_colour(self.colours.get(r.name, 0))
            cells = [Text("● ", style=colour) + Text(run_name(r.name, 23)),
                     Text(r.status_text)]
            cells += [Text(r.params.get(k, "")) for k in snap.param_keys]
            cells += [Text(num(r.final, 9)), Text(num(r.best, 9)), Text(human_int(r.step))]
            out.append((r.name, cells))
        table.set_rows(out)
        arrow = "↓" if self.reverse else "↑"
        what = snap.headline or "no headline tag"
        self._say("#compare-sort", "by [b]%s[/b] %s (s, r)   final/best of [b]%s[/b]: %s is "
                  "best" % (self.sort_by, arrow, what, "max" if snap.best_is_max else "min"))

    def _sort_columns(self) -> list[str]:
        snap = self.papp.model.comparison
        return list(SORTS) + (list(snap.param_keys) if snap is not None else [])

    def action_sort(self, delta: int) -> None:
        cols = self._sort_columns()
        i = cols.index(self.sort_by) if self.sort_by in cols else 0
        self.sort_by = cols[(i + delta) % len(cols)]
        self.reverse = self.sort_by in ("best", "final", "step")
        self._resort()

    def action_reverse(self) -> None:
        self.reverse = not self.reverse
        self._resort()

    def _resort(self) -> None:
        snap = self.papp.model.comparison
        if snap is not None:
            self._table(snap)

    def action_open(self) -> None:
        if self.query_one(TabbedContent).active != "table":
            return
        name = self.query_one("#compare-table", KeyedTable).current_key
        path = next((p for p in self.paths if p.name == name), None)
        if path is not None:
            from .run_view import open_run_screen

            self.app.pop_screen()
            open_run_screen(self.app, path)

    # ------------------------------------------------------------------ tags, tabs
    def _sync_tag_list(self) -> None:
        sl = self.query_one("#compare-tags", SelectionList)
        chosen = set(self.chosen or [])
        sl.clear_options()
        sl.add_options([Selection(t, t, t in chosen) for t in self._tags])

    @on(SelectionList.SelectedChanged, "#compare-tags")
    def _tags_changed(self, event: SelectionList.SelectedChanged) -> None:
        sel = set(event.selection_list.selected)
        before = [t for t in (self.chosen or []) if t in sel]
        self.chosen = before + [t for t in self._tags if t in sel and t not in before]
        self._redraw()

    def action_tags(self) -> None:
        sl = self.query_one("#compare-tags", SelectionList)
        sl.display = not sl.display
        if sl.display:
            sl.focus()
        else:
            self.query_one("#compare-plots").focus()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        target = "#compare-table" if tab == "table" else "#compare-plots"
        self.query_one(target).focus()

    def action_back(self) -> None:
        self.app.pop_screen()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        table = self.is_mounted and self.query_one(TabbedContent).active == "table"
        if action in ("sort", "reverse", "open"):
            return table
        return True
