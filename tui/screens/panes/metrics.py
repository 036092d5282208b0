"""Metrics of the run: line plots of chosen tags, from the metric store only.

EMA smoothing is adjustable (TensorBoard's debiased EMA, computed by the store), the x axis is
the step or the wall time since the first point, checkpoint saves are marked on the curves and
the latest value of every chosen tag is shown in one row.
"""
from __future__ import annotations


import numpy as np
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import SelectionList, Static
from textual.widgets.selection_list import Selection

from tui.core.metrics import MetricStore
from tui.core.run_detail_model import RunDetail
from tui.widgets.formatting import num
from tui.widgets.line_plot import LinePlot, PlotData
from tui.screens.panes.base import RunPaneMixin


SMOOTHING_STEPS = (0.0, 0.3, 0.6, 0.8, 0.9, 0.95, 0.99)
X_MODES = {"step": "step", "relative": "wall time"}
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


class MetricsPane(RunPaneMixin, Vertical):
    BINDINGS = [
        Binding("plus,equals_sign", "smooth(1)", "Smooth+", id="metrics.smooth_more"),
        Binding("minus", "smooth(-1)", "Smooth-", id="metrics.smooth_less"),
        Binding("x", "x_axis", "X axis", id="metrics.x_axis"),
        Binding("t", "tags", "Tags", id="metrics.tags"),
    ]

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
               plot.size.height, detail.checkpoints.version)
        if self._plot_keys.get(tag) == key:
            return
        self._plot_keys[tag] = key
        main = self.store.downsample(run, tag, cols, x=self.x_mode, smoothing=self.smoothing)
        raw = None
        if main is not None and self.smoothing > 0:
            raw = self.store.downsample(run, tag, cols, x=self.x_mode, smoothing=0.0,
                                        x_range=(main.lo, main.hi))
        last = self.store.latest(run, tag)
        plot.set_data(PlotData(
            title=tag, x_mode=self.x_mode, main=main, raw=raw,
            markers=self._markers(run, tag, detail), latest=last.value if last else None,
            smoothing=self.smoothing))

    def _markers(self, run: str, tag: str, detail: RunDetail) -> list[float]:
        hist = detail.checkpoints.history
        if self.x_mode == "step":
            return [float(c.step) for c in hist if c.step is not None]
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
        self.query_one("#metrics-latest", Static).update(head + "   ".join(parts))

    def _info(self) -> None:
        problems = self.papp.model.metrics_problems(self.detail.path) if self.detail else []
        text = "smoothing [b]%.2f[/b] (+/-)   x: [b]%s[/b] (x)   %d tags (t)" % (
            self.smoothing, X_MODES[self.x_mode], len(self._tags))
        if problems:
            text += "   [yellow]%s[/yellow]" % problems[0].replace("[", r"\[")
        self.query_one("#metrics-info", Static).update(text)

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
    def action_smooth(self, delta: int) -> None:
        i = min(range(len(SMOOTHING_STEPS)), key=lambda k: abs(SMOOTHING_STEPS[k] -
                                                              self.smoothing))
        self.smoothing = SMOOTHING_STEPS[max(0, min(len(SMOOTHING_STEPS) - 1, i + delta))]
        self._redraw()

    def action_x_axis(self) -> None:
        self.x_mode = "relative" if self.x_mode == "step" else "step"
        self._redraw()

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
