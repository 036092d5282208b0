"""Metrics of the run: line plots of chosen tags, from the metric store only.

EMA smoothing is adjustable (TensorBoard's debiased EMA, computed by the store), the x axis is
the step, the wall time since the first point or the clock time; checkpoint saves are marked on
the curves and the latest value of every chosen tag is shown in one row. From the keyboard the
x axis zooms (``z``/``Z``) and pans (``h``/``l``), ``0`` shows everything again and ``y`` puts
the y axis on a log scale; each plot's title gives the min, max and last value of the window
it shows. Nothing is redrawn (nothing written to the terminal) while nothing changed.
"""
from __future__ import annotations


import numpy as np
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import SelectionList, Static
from textual.widgets.selection_list import Selection

from tui.core.metrics import MetricStore
from tui.core.plot_window import plot_series
from tui.core.run_detail_model import RunDetail
from tui.widgets.formatting import num
from tui.widgets.line_plot import LinePlot, PlotData
from tui.screens.panes.base import RunPaneMixin
from tui.screens.plot_controls import PlotControls, plot_bindings


MAX_DEFAULT_TAGS = 2


def default_tags(tags: list[str], headline: str | None) -> list[str]:
    out = [headline] if headline in tags else []
    for prefix in ("loss/", "losses/", "train/", "sac/"):
        extra = next((t for t in tags if t.startswith(prefix) and t not in out), None)
        if extra is not None:
            out.append(extra)
            break
    for t in tags:
        if len(out) >= MAX_DEFAULT_TAGS:
            break
        if t not in out:
            out.append(t)
    return out[:MAX_DEFAULT_TAGS]


class MetricsPane(PlotControls, RunPaneMixin, Vertical):
    BINDINGS = plot_bindings("metrics")

    def __init__(self) -> None:
        super().__init__(id="pane-metrics")
        self.detail: RunDetail | None = None
        self.smoothing = 0.6
        self.x_mode = "step"
        self.chosen: list[str] | None = None   # None: defaults once tags appear
        self._tags: list[str] = []
        self._plot_keys: dict[str, object] = {}
        self._plot_widgets: dict[str, LinePlot] = {}
        self._synced = False
        self._texts: dict[str, str] = {}       # what each Static shows (updated on change only)


    @property
    def store(self) -> MetricStore:
        return self.papp.model.store

    def compose(self) -> ComposeResult:
        yield Static("", id="metrics-latest")
        yield Static("", id="metrics-info")
        with Horizontal(id="metrics-body"):
            yield SelectionList[str](id="metrics-tags")
            yield VerticalScroll(id="metrics-plots", can_focus=True)

    def on_mount(self) -> None:
        self.query_one("#metrics-tags").display = False

    def focus_main(self) -> None:
        self.query_one("#metrics-plots").focus()

    # ------------------------------------------------------------------ data
    def show(self, detail: RunDetail) -> None:
        self.detail = detail
        run = detail.name
        tags = self.store.tags(run)
        if tags != self._tags:
            self._tags = tags
            self._sync_tag_list()
        if self.chosen is None and tags:
            self.chosen = default_tags(tags, detail.headline)
            self._sync_tag_list()
        self._sync_plots()
        self._latest_row(run)
        self._info()
        for tag, plot in self._plots().items():
            self._draw(run, tag, plot, detail)

    def _plots(self) -> dict[str, LinePlot]:
        return self._plot_widgets

    def _sync_plots(self) -> None:
        want = [t for t in (self.chosen or []) if t in self._tags]
        if want == list(self._plot_widgets) and self._synced:
            return
        self._synced = True
        box = self.query_one("#metrics-plots", VerticalScroll)
        for plot in self._plot_widgets.values():
            plot.remove()
        box.remove_children(".metrics-empty")
        self._plot_keys.clear()
        self._plot_widgets = {t: LinePlot(name=t, classes="metric-plot") for t in want}
        if want:
            box.mount_all(list(self._plot_widgets.values()))
        else:
            note = "no metrics yet" if not self._tags else "no tag chosen: press t"
            box.mount(Static("[dim]%s[/dim]" % note, classes="metrics-empty"))
        box.set_class(len(want) == 1, "one-plot")

    def _draw(self, run: str, tag: str, plot: LinePlot, detail: RunDetail) -> None:
        cols = plot.dot_columns
        key = (self.store.tag_version(run, tag), self.smoothing, self.x_mode, cols,
               plot.size.height, detail.checkpoints.version, self.window, self.log_y)
        if self._plot_keys.get(tag) == key:
            return
        self._plot_keys[tag] = key
        view = plot_series(self.store, [(run, tag)], cols, x=self.x_mode,
                           smoothing=self.smoothing, window=self.window)
        sv = view.series[0] if view is not None and view.series else None
        last = self.store.latest(run, tag)
        plot.set_data(PlotData(
            title=tag, x_mode=self.x_mode, main=sv.main if sv else None,
            raw=sv.raw if sv else None, markers=self._markers(run, tag, detail),
            latest=last.value if last else None, smoothing=self.smoothing,
            stats=sv.stats if sv else None, log_y=self.log_y,
            zoom=self.window.describe() if self.window.zoomed else "",
            note="no points in this window (0: all)" if sv is not None and sv.stats is None
            else ""))

    def _markers(self, run: str, tag: str, detail: RunDetail) -> list[float]:
        hist = detail.checkpoints.history
        if self.x_mode == "step":
            return [float(c.step) for c in hist if c.step is not None]
        if self.x_mode == "wall":
            return [c.mtime for c in hist]
        snap = self.store.snapshot(run, tag)
        if snap is None:
            return []
        fin = snap.walls[np.isfinite(snap.walls)]
        if not len(fin):
            return []
        t0 = float(fin.min())
        return [c.mtime - t0 for c in hist]

    def _latest_row(self, run: str) -> None:
        parts = []
        step = None
        for tag in (self.chosen or []):
            p = self.store.latest(run, tag)
            if p is not None:
                parts.append("[b]%s[/b] %s" % (tag.rsplit("/", 1)[-1], num(p.value, 9)))
                step = p.step if step is None else max(step, p.step)
        head = ("step [b]%d[/b]   " % step) if step is not None else ""
        self._say("#metrics-latest", head + "   ".join(parts))

    def _say(self, selector: str, text: str) -> None:
        """Update a line only when its text changed: an idle tab writes nothing."""
        if self._texts.get(selector) != text:
            self._texts[selector] = text
            self.query_one(selector, Static).update(text)

    def _info(self) -> None:
        problems = self.papp.model.metrics_problems(self.detail.path) if self.detail else []
        text = self.settings_text(len(self._tags))
        if problems:
            text += "   [yellow]%s[/yellow]" % problems[0].replace("[", r"\[")
        self._say("#metrics-info", text)

    # ------------------------------------------------------------------ tag list
    def _sync_tag_list(self) -> None:
        sl = self.query_one("#metrics-tags", SelectionList)
        chosen = set(self.chosen or [])
        sl.clear_options()
        sl.add_options([Selection(t, t, t in chosen) for t in self._tags])

    @on(SelectionList.SelectedChanged, "#metrics-tags")
    def _tags_changed(self, event: SelectionList.SelectedChanged) -> None:
        sel = set(event.selection_list.selected)
        before = [t for t in (self.chosen or []) if t in sel]
        self.chosen = before + [t for t in self._tags if t in sel and t not in before]
        if self.detail is not None:
            self.show(self.detail)

    # ------------------------------------------------------------------ keys
    def action_tags(self) -> None:
        sl = self.query_one("#metrics-tags", SelectionList)
        sl.display = not sl.display
        if sl.display:
            sl.focus()
        else:
            self.focus_main()

    def _redraw(self) -> None:
        self._plot_keys.clear()
        if self.detail is not None:
            self.show(self.detail)

    def on_resize(self) -> None:
        self._redraw()
