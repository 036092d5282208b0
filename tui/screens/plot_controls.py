"""The keys every plot view shares (the run's metrics tab, the compare view): smoothing, the x
axis, zoom and pan on x, reset, log-scale y. Keyboard only, no mouse needed."""
from __future__ import annotations

from textual.binding import Binding

from tui.core.plot_window import XWindow

SMOOTHING_STEPS = (0.0, 0.3, 0.6, 0.8, 0.9, 0.95, 0.99)
X_MODES = {"step": "step", "relative": "wall time", "wall": "clock"}


def plot_bindings(prefix: str) -> list[Binding]:
    return [
        Binding("plus,equals_sign", "smooth(1)", "Smooth+", id=prefix + ".smooth_more"),
        Binding("minus", "smooth(-1)", "Smooth-", id=prefix + ".smooth_less"),
        Binding("x", "x_axis", "X axis", id=prefix + ".x_axis"),
        Binding("t", "tags", "Tags", id=prefix + ".tags"),
        Binding("z", "zoom(0.5)", "Zoom in", show=False, id=prefix + ".zoom_in"),
        Binding("Z", "zoom(2)", "Zoom out", show=False, id=prefix + ".zoom_out"),
        Binding("h,less_than_sign", "pan(-1)", "Pan left", show=False,
                id=prefix + ".pan_left"),
        Binding("l,greater_than_sign", "pan(1)", "Pan right", show=False,
                id=prefix + ".pan_right"),
        Binding("0", "reset_zoom", "All", show=False, id=prefix + ".reset"),
        Binding("y", "log_y", "Log y", show=False, id=prefix + ".log_y"),
    ]


class PlotControls:
    """Plot settings and the actions that change them; the owner redraws in ``_redraw``."""

    smoothing: float = 0.6
    x_mode: str = "step"
    window: XWindow = XWindow()
    log_y: bool = False

    def _redraw(self) -> None:
        raise NotImplementedError

    def settings_text(self, tags: int) -> str:
        text = "smoothing [b]%.2f[/b] (+/-)   x: [b]%s[/b] (x)   %d tags (t)" % (
            self.smoothing, X_MODES[self.x_mode], tags)
        if self.window.zoomed:
            text += "   zoom [b]%s[/b] (z Z h l 0)" % self.window.describe()
        else:
            text += "   zoom (z)"
        if self.log_y:
            text += "   [b]log y[/b] (y)"
        return text

    def action_smooth(self, delta: int) -> None:
        i = min(range(len(SMOOTHING_STEPS)), key=lambda k: abs(SMOOTHING_STEPS[k] -
                                                              self.smoothing))
        self.smoothing = SMOOTHING_STEPS[max(0, min(len(SMOOTHING_STEPS) - 1, i + delta))]
        self._redraw()

    def action_x_axis(self) -> None:
        modes = list(X_MODES)
        self.x_mode = modes[(modes.index(self.x_mode) + 1) % len(modes)]
        self.window = XWindow()          # another axis: the whole range again
        self._redraw()

    def action_zoom(self, factor: float) -> None:
        self.window = self.window.zoom(factor)
        self._redraw()

    def action_pan(self, steps: float) -> None:
        self.window = self.window.pan(steps)
        self._redraw()

    def action_reset_zoom(self) -> None:
        self.window = XWindow()
        self._redraw()

    def action_log_y(self) -> None:
        self.log_y = not self.log_y
        self._redraw()
