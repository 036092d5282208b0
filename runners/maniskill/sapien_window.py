"""SAPIEN's viewer as the toolkit's window plugin: the live scene on an X display, mouse camera
control, and a small text panel with the overlay (checkpoint, step, episode, returns).

SAPIEN draws with Vulkan (on a box without a GPU: Mesa's lavapipe, on the CPU) into a GLFW
window. ManiSkill's default viewer carries eight editor panels; this one keeps only the camera
control (its panel hidden) and the overlay, so the scene fills the window.
"""
from __future__ import annotations

from typing import Any, Tuple

from runners.sdk import Window


def _plugins() -> Any:
    from sapien.utils.viewer.control_window import ControlWindow
    from sapien.utils.viewer.plugin import Plugin

    class Overlay(Plugin):
        def __init__(self) -> None:
            self.text = ""
            self.ui = None  # type: Any

        def get_ui_windows(self) -> list:
            import sapien.internal_renderer as R

            if self.ui is None:
                self.ui = R.UIWindow().Label("Pitwall").Pos(8, 8).Size(340, 64).append(
                    R.UIDisplayText().Bind(self, "text"))
            return [self.ui]

        def close(self) -> None:
            self.ui = None

    # mouse and keyboard camera control without its editor panel (ManiSkill looks the plugin
    # up by its exact type, so it stays a ControlWindow whose panel list is empty)
    control = ControlWindow()
    control.get_ui_windows = lambda: []
    return control, Overlay()


class SapienWindow(Window):
    def __init__(self, env: Any, size: Tuple[int, int]):
        import sapien
        from sapien.utils import Viewer

        u = env.unwrapped
        cam = getattr(u, "_viewer_camera_config", None)
        shader = getattr(getattr(cam, "shader_config", None), "shader_pack", None)
        if shader:
            sapien.render.set_viewer_shader_dir(shader)
        control, self.overlay = _plugins()
        self.viewer = Viewer(resolutions=(int(size[0]), int(size[1])),
                             plugins=[control, self.overlay])
        self.env = env
        u._viewer = self.viewer   # ManiSkill's render_human() draws into this viewer
        u._setup_viewer()         # its scene and the task's camera pose
        self.sync()

    def sync(self) -> None:
        if not self.viewer.closed:
            self.env.unwrapped.render_human()

    def is_open(self) -> bool:
        return not self.viewer.closed

    def set_overlay(self, lines: Tuple[str, ...]) -> None:
        self.overlay.text = "\n".join(lines)

    def idle(self) -> None:
        self.sync()

    def close(self) -> None:
        if not self.viewer.closed:
            self.viewer.close()
        self.env.unwrapped._viewer = None
