"""Rendering shared by the runners' viewers: offscreen frames, overlays, mp4 files, previews.

Nothing here imports ``tui`` or Textual, and it keeps Python 3.8 syntax. MuJoCo and imageio are
imported lazily by the functions that need them, so a runner for another simulator can use the
overlay, preview and video parts with frames of its own.
"""
