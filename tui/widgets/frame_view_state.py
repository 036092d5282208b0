"""What the two frame views (half blocks: ``PreviewView``; a real picture: ``PictureView``)
hold alike: the frame shown, its caption or the message shown instead, and which preview frame
that was. Each view draws it its own way in ``show_image``."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from runners.protocol import PreviewFrame

NO_PREVIEW = "no preview yet"


class FrameViewState:
    """Mixed into a widget; ``_init_frame_state()`` from its ``__init__``."""

    def _init_frame_state(self) -> None:
        self._img: "np.ndarray | None" = None
        self._caption = ""
        self._message = NO_PREVIEW
        self._key: object = None
        self.images_shown = 0          # how many different images it was handed

    def show_image(self, img: "np.ndarray | None", text: str = "",
                   message: str | None = None) -> None:
        raise NotImplementedError

    def _take(self, img: "np.ndarray | None", text: str, message: str | None) -> None:
        """Hold what ``show_image`` was handed (called first thing there)."""
        self._img = img
        self._caption = text
        self._message = message or ""
        if img is not None:
            self.images_shown += 1

    def show_frame(self, frame: "PreviewFrame | None", message: str | None = None,
                   label: str = "") -> None:
        """A decoded preview frame (``None``: show ``message`` instead); the same frame
        handed again is not drawn again."""
        if frame is None:
            if self._img is not None or self._message != (message or NO_PREVIEW):
                self._key = None
                self.show_image(None, message=message or NO_PREVIEW)
            return
        key = (frame.path, frame.mtime, frame.frame, label)
        if key == self._key:
            return
        self._key = key
        from tui.core.preview import caption, frame_array

        self.show_image(frame_array(frame), (label + "  " if label else "") + caption(frame))

    @property
    def caption_text(self) -> str:
        return self._caption if self._img is not None else self._message

    @property
    def image(self) -> Any:
        return self._img

    @property
    def has_image(self) -> bool:
        return self._img is not None
