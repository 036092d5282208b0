"""When the X server of a viewer window goes away, say so before the process ends."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from typing import Any, Callable, List, Optional

_X_HANDLER = []  # type: List[Any]


def install_x_io_error_handler(on_lost: Optional[Callable[[str], None]]) -> None:
    """When the X server goes away (SSH forwarding dropped, Xvfb killed), Xlib would exit(1)
    silently: report it first (``on_lost(message)``), then exit 1."""
    if _X_HANDLER:
        return
    name = ctypes.util.find_library("X11") or "libX11.so.6"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return
    proto = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)

    def handler(_dpy: Any) -> int:
        msg = "lost the X display %s (X server gone or connection closed)" % \
            os.environ.get("DISPLAY", "?")
        try:
            if on_lost is not None:
                on_lost(msg)
            sys.stdout.write("viewer error: %s\n" % msg)
            sys.stdout.flush()
        finally:
            os._exit(1)
        return 0

    cb = proto(handler)
    lib.XSetIOErrorHandler.argtypes = [proto]
    lib.XSetIOErrorHandler.restype = ctypes.c_void_p
    lib.XSetIOErrorHandler(cb)
    _X_HANDLER.append(cb)  # keep the callback alive
