"""The toolkit's checkpoint follower in one process: loads run off the loop (a slow load never
stalls it), an ack always names what was loaded for its request (never an older file under a
newer seq), a request superseded while loading is not swapped in."""
from __future__ import annotations

import threading
import time
from pathlib import Path

from runners.protocol import read_viewer_status, save_checkpoint, write_state
from runners.sdk.follower import CheckpointFollower

from conftest import wait_until


def make_files(run: Path, n: int) -> list[Path]:
    return [save_checkpoint(run, lambda f, i=i: f.write(b"w%d" % i), 100 * (i + 1))
            for i in range(n)]


class Loop(threading.Thread):
    """An env loop: one step every ms, polling the follower between steps."""

    def __init__(self, follower: CheckpointFollower):
        super().__init__(daemon=True)
        self.follower = follower
        self.steps = 0
        self.shown = None
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            loaded = self.follower.poll()
            if loaded is not None:
                self.shown = loaded.path
            self.steps += 1
            time.sleep(0.001)


def test_slow_loads_run_off_the_loop_and_acks_match_their_request(tmp_path):
    run = tmp_path / "Run_2026-01-01_00-00-00"
    files = make_files(run, 6)
    delay = {"s": 0.0}

    def load(path: Path):
        time.sleep(delay["s"])
        return path.read_bytes(), None

    f = CheckpointFollower(run, "v", load)
    loop = Loop(f)
    loop.start()
    try:
        wait_until(lambda: loop.shown == run / "nn" / "latest.pth", 5, what="the first load")
        # a 0.5 s load: the loop keeps stepping meanwhile
        delay["s"] = 0.5
        before = loop.steps
        req = write_state(run, "manual", files[0])
        # the ack is written inside poll(), just before the loop takes what poll() returned
        wait_until(lambda: (read_viewer_status(run, "v") or f.status).seq == req.seq
                   and loop.shown == files[0], 5, what="the slow switch")
        assert loop.steps - before > 100
        # rapid requests with loads of random length: every ack names its own request's file
        delay["s"] = 0.003
        for i in range(60):
            target = files[i % len(files)]
            req = write_state(run, "manual", target)
            a = wait_until(lambda: (lambda a: a if a and a.seq == req.seq else None)(
                read_viewer_status(run, "v")), 5, what="ack %d" % i)
            assert Path(a.checkpoint_path) == target and a.error is None, (i, a)
        # a request superseded while its file loads is never shown
        delay["s"] = 0.3
        write_state(run, "manual", files[1])
        time.sleep(0.05)
        last = write_state(run, "manual", files[2])
        wait_until(lambda: (read_viewer_status(run, "v") or f.status).seq == last.seq, 5,
                   what="the newest request")
        time.sleep(0.4)
        assert loop.shown == files[2]
    finally:
        loop.stop.set()
        loop.join(5)
        f.close()
