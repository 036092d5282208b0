"""Preview frames and the video index as files (runners.protocol), and the pure functions that
turn a frame into terminal output (tui.core.preview, tui.core.terminal_graphics)."""
from __future__ import annotations

import base64
import io
import json
import os
import zlib

import numpy as np
import pytest

from runners.protocol import (ProtocolError, VideoEntry, append_video_entry, claim_video_path,
                              decode_png, encode_png, list_previews, read_preview,
                              read_video_index, temp_video_path, write_preview)
from runners.protocol.preview import PngError
from tui.core.preview import (fit, half_block_ansi, half_block_cells, kitty_escape, resize,
                              sixel_escape, xterm256)
from tui.core.terminal_graphics import detect


def gradient(w: int = 37, h: int = 23) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) % 256], -1).astype(np.uint8)


def test_png_round_trip_keeps_pixels_and_text():
    img = gradient()
    data = encode_png(img.tobytes(), 37, 23, {"pitwall": '{"a": 1}'})
    w, h, rgb, text = decode_png(data)
    assert (w, h) == (37, 23) and rgb == img.tobytes() and text == {"pitwall": '{"a": 1}'}


def test_png_decoder_reads_pngs_written_with_every_row_filter():
    PIL = pytest.importorskip("PIL.Image")
    img = gradient()
    for mode in ("RGB", "RGBA", "L"):
        buf = io.BytesIO()
        PIL.fromarray(img).convert(mode).save(buf, "PNG", optimize=True)  # adaptive filters
        w, h, rgb, _ = decode_png(buf.getvalue())
        want = np.asarray(PIL.fromarray(img).convert(mode).convert("RGB"))
        assert (w, h) == (37, 23)
        assert np.array_equal(np.frombuffer(rgb, np.uint8).reshape(23, 37, 3), want), mode


def test_png_decoder_refuses_damaged_files():
    good = encode_png(gradient().tobytes(), 37, 23)
    with pytest.raises(PngError, match="signature"):
        decode_png(b"GIF89a" + good[6:])
    with pytest.raises(PngError, match="truncated|IEND"):
        decode_png(good[: len(good) // 2])
    bad_crc = bytearray(good)
    bad_crc[40] ^= 0xFF          # inside the IDAT data: its CRC no longer matches
    with pytest.raises(PngError, match="CRC"):
        decode_png(bytes(bad_crc))


def test_preview_file_is_replaced_atomically_and_carries_its_metadata(tmp_path):
    run = tmp_path / "run"
    img = gradient(16, 8)
    write_preview(run, "viewer-1", img.tobytes(), 16, 8,
                  {"checkpoint": "/r/nn/ckpt_000000512.pth", "checkpoint_step": 512,
                   "frame": 3, "time": 1.5})
    f = read_preview(run, "viewer-1")
    assert f.rgb == img.tobytes() and f.step == 512 and f.frame == 3 and f.time == 1.5
    assert f.meta["format"] == "pitwall.preview/1" and f.meta["viewer"] == "viewer-1"
    assert list_previews(run) == ["viewer-1"]
    assert [n for n in os.listdir(run / "preview") if n.startswith(".")] == []  # no temp left
    assert read_preview(run, "viewer-2") is None
    (run / "preview" / "viewer-3.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(ProtocolError, match="viewer-3.png"):
        read_preview(run, "viewer-3")


def _entry(name: str, **kw) -> VideoEntry:
    d = dict(file=name, checkpoint="/r/nn/ckpt_000000512.pth", step=512, returns=[1.0, 2.5],
             frames=60, fps=25.0, width=64, height=48, size=1234, created=10.0,
             lengths=[29, 29], capped=[False, True])
    d.update(kw)
    return VideoEntry(**d)


def test_video_index_round_trip_skips_bad_lines_and_holds_a_partial_one(tmp_path):
    run = tmp_path / "run"
    append_video_entry(run, _entry("a.mp4"))
    with open(run / "videos" / "index.jsonl", "a") as f:
        f.write("not json\n")
        f.write(json.dumps({"file": "../escape.mp4", "checkpoint": "", "returns": [],
                            "frames": 1, "fps": 1, "width": 2, "height": 2, "size": 1,
                            "created": 1}) + "\n")
        f.write('{"file": "b.mp4", "checkp')          # still being written
    entries, bad = read_video_index(run)
    assert [e.file for e in entries] == ["a.mp4"] and bad == 2
    e = entries[0]
    assert e.returns == [1.0, 2.5] and e.episodes == 2 and e.capped == [False, True]
    assert e.source == "record" and e.step == 512


def test_claiming_a_video_name_never_replaces_another_file(tmp_path):
    run = tmp_path / "run"
    names = []
    for i in range(3):
        tmp = temp_video_path(run, "record_x")
        tmp.write_bytes(b"video %d" % i)
        names.append(claim_video_path(run, tmp, "record_x").name)
    assert names == ["record_x.mp4", "record_x-2.mp4", "record_x-3.mp4"]
    assert (run / "videos" / "record_x.mp4").read_bytes() == b"video 0"
    assert sorted(os.listdir(run / "videos")) == sorted(names)   # temp files are gone


def test_half_blocks_fit_the_frame_and_keep_its_colours():
    img = np.zeros((40, 80, 3), np.uint8)
    img[:20] = (255, 0, 0)
    img[20:] = (0, 0, 255)
    assert fit(80, 40, 40, 40) == (40, 10)          # 2:1 image in cells twice as tall as wide
    cells = half_block_cells(img, 40, 40)
    assert len(cells) == 10 and len(cells[0]) == 40
    assert cells[0][0].fg == (255, 0, 0) and cells[-1][-1].bg == (0, 0, 255)
    lines = half_block_ansi(img, 40, 40)
    assert len(lines) == 10 and lines[0].count("▀") == 40
    assert "\x1b[38;2;255;0;0;48;2;255;0;0m" in lines[0] and lines[0].endswith("\x1b[0m")
    assert "\x1b[38;5;196;48;5;196m" in half_block_ansi(img, 40, 40, truecolor=False)[0]
    assert xterm256(np.array([[0, 0, 0], [255, 255, 255]])).tolist() == [16, 231]


def test_resize_averages_areas():
    img = np.zeros((4, 4, 3), np.uint8)
    img[:, :2] = 200
    small = resize(img, 2, 2)
    assert small.shape == (2, 2, 3) and small[0, 0, 0] == 200 and small[0, 1, 0] == 0
    assert resize(img, 1, 1)[0, 0, 0] == 100          # a mixed block is averaged
    assert resize(img, 8, 8).shape == (8, 8, 3)


def test_kitty_escape_chunks_a_png_the_terminal_can_decode():
    img = gradient(64, 64)
    png = encode_png(img.tobytes(), 64, 64)
    esc = kitty_escape(png, 20, 10, image_id=3, chunk=1024)
    chunks = esc.split("\x1b\\")[:-1]
    assert chunks[0].startswith("\x1b_Ga=T,f=100") and ",c=20,r=10" in chunks[0]
    assert ",i=3" in chunks[0] and chunks[0].split(";")[0].endswith("m=1")
    assert chunks[-1].startswith("\x1b_Gm=0;")
    payload = "".join(c.split(";", 1)[1] for c in chunks)
    assert base64.standard_b64decode(payload) == png


def test_sixel_escape_encodes_every_pixel_row_band():
    img = np.zeros((12, 10, 3), np.uint8)
    img[:6] = (255, 255, 255)
    s = sixel_escape(img)
    assert s.startswith('\x1bPq"1;1;10;12') and s.endswith("\x1b\\")
    assert "#215;2;100;100;100" in s and "#0;2;0;0;0" in s
    assert s.count("-") == 2                         # two bands of six rows
    assert "#215!10~" in s                           # a full white band: 10 x all six bits


def test_terminal_graphics_detection():
    assert detect({"TERM": "xterm-kitty"}).kind == "kitty"
    assert detect({"TERM": "xterm-kitty", "TMUX": "/tmp/tmux-0/default,1,0"}).kind == "halfblock"
    assert detect({"TERM": "foot"}).kind == "sixel"
    assert detect({"TERM_PROGRAM": "WezTerm"}).kind == "kitty"
    g = detect({"TERM": "xterm-256color"})
    assert g.kind == "halfblock" and not g.truecolor
    assert detect({"TERM": "xterm-256color", "COLORTERM": "truecolor"}).truecolor
    assert detect({"TERM": "xterm", "PITWALL_GRAPHICS": "sixel"}).kind == "sixel"
    assert "not one of" in detect({"PITWALL_GRAPHICS": "braille"}).reason


def test_png_is_stdlib_only():
    """The control center decodes previews without an imaging library."""
    import runners.protocol.preview as mod

    src = open(mod.__file__).read()
    assert "import numpy" not in src and "PIL" not in src
    assert zlib.decompress(zlib.compress(b"x")) == b"x"
