"""Reading logs: the last lines of a big file, and following one across truncation/rotation."""
from __future__ import annotations

import os
import threading

from conftest import wait_until
from tui.core.logs import follow, tail_text


def test_tail_text_reads_backwards_over_chunks(tmp_path):
    p = tmp_path / "big.log"
    p.write_text("".join("line %06d %s\n" % (i, "x" * 100) for i in range(20000)) + "partial")
    out = tail_text(p, 3)
    assert out.splitlines() == ["line 019998 " + "x" * 100, "line 019999 " + "x" * 100,
                                "partial"]
    assert tail_text(p, 2, complete_only=True).splitlines()[-1].startswith("line 019999")


def test_follow_holds_partial_lines_and_survives_truncation_and_rotation(tmp_path):
    p = tmp_path / "role.log"
    p.write_text("old 1\nold 2\n")
    got: list[str] = []
    stop = threading.Event()

    start = p.stat().st_size  # taken before anything is appended

    def run():
        for chunk in follow(p, start, stop.is_set, poll=0.01):
            got.append(chunk)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    with open(p, "a") as f:
        f.write("new 1\nhalf")
    wait_until(lambda: got == ["new 1\n"], what="first new line")
    with open(p, "a") as f:
        f.write(" done\n")
    wait_until(lambda: "".join(got).endswith("half done\n"), what="completed line")
    p.write_text("after truncate\n")  # shorter than the offset: start over
    wait_until(lambda: "".join(got).endswith("after truncate\n"), what="truncation")
    os.rename(p, tmp_path / "role.log.1")
    p.write_text("rotated\n")
    wait_until(lambda: "".join(got).endswith("rotated\n"), what="rotation")
    stop.set()
    t.join(5)
    assert "old 1" not in "".join(got)
