"""Pictures in terminals that can show them: kitty graphics or sixel through textual-image, in
place of the half-block preview, with the same interface and caption.

Which one is decided once, before the app starts (:func:`choose`, from
:func:`tui.core.terminal_graphics.tui_graphics`): textual-image asks the terminal about its
cell size and support when it is imported, which is impossible once Textual reads stdin, so it
is imported then, and only when a graphics protocol is to be used. Everywhere else (tmux
without passthrough, unknown terminals, tests) the half-block :class:`~.preview.PreviewView`
stays. Inside tmux with passthrough the kitty data is wrapped for tmux; the picture is placed
with unicode placeholders, which tmux draws as text.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static

from .frame_view_state import FrameViewState

if TYPE_CHECKING:   # numpy and the preview decoder load with the Preview tab, not at start
    import numpy as np

_KIND = "halfblock"      # what choose() settled on
_CLASS: Any = None       # the textual-image widget class for it


def choose(kind: str, tmux: bool = False) -> str:
    """Before the app runs: import textual-image for ``kind`` (``kitty``/``sixel``); returns
    what will be used (``halfblock`` when textual-image cannot be loaded)."""
    global _KIND, _CLASS
    if kind not in ("kitty", "sixel"):
        _KIND, _CLASS = "halfblock", None
        return _KIND
    try:
        from textual_image import widget as ti
    except Exception:            # not installed, or no terminal to ask: half blocks
        _KIND, _CLASS = "halfblock", None
        return _KIND
    _CLASS = ti.TGPImage if kind == "kitty" else ti.SixelImage
    _KIND = kind
    if tmux and kind == "kitty":
        _wrap_for_tmux()
    return _KIND


def chosen() -> str:
    return _KIND


def _wrap_for_tmux() -> None:
    """Kitty graphics messages wrapped in tmux's passthrough (DCS tmux; ESCs doubled)."""
    import sys

    from textual_image.renderable import tgp

    original = tgp._send_tgp_message

    def send(**kw: Any) -> None:
        payload = kw.pop("payload", None)
        body = ",".join("%s=%s" % (k, v) for k, v in kw.items() if v is not None)
        seq = "\x1b_G" + body + (";" + payload if payload else "") + "\x1b\\"
        out = sys.__stdout__
        if out is None:
            return original(payload=payload, **kw)
        out.write("\x1bPtmux;" + seq.replace("\x1b", "\x1b\x1b") + "\x1b\\")
        out.flush()
    tgp._send_tgp_message = send


def preview_widget(id: str) -> Widget:
    """The preview for this terminal: pictures where it can show them, else half blocks."""
    if _CLASS is None:
        from .preview import PreviewView

        return PreviewView(id=id)
    return PictureView(_CLASS, id=id)


class PictureView(FrameViewState, Vertical):
    """A textual-image picture and a caption, with :class:`PreviewView`'s interface."""

    DEFAULT_CSS = """
    PictureView { height: 1fr; min-height: 4; }
    PictureView > .picture { height: 1fr; width: 1fr; }
    PictureView > .caption { height: 2; color: $text-muted; }
    """

    def __init__(self, image_class: Any, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._image_class = image_class
        self._init_frame_state()

    def compose(self) -> ComposeResult:
        yield self._image_class(None, classes="picture")
        yield Static("", classes="caption")

    def show_image(self, img: np.ndarray | None, text: str = "",
                   message: str | None = None) -> None:
        from PIL import Image as PILImage

        self._take(img, text, message)
        pic = self.query_one(".picture")
        pic.image = PILImage.fromarray(img) if img is not None else None
        self.query_one(".caption", Static).update(
            (text if img is not None else self._message).replace("[", r"\["))
