"""The bounded store: memory bound, exact recent points, envelope-preserving history,
TensorBoard smoothing, min/max columns, overlays and alignment, thread safety."""
from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tui.core.metrics import BoundedSeries, MetricStore, ema, last_at, minmax_columns
from tui.core.metrics.downsample import ema_reference, sorted_xy

FLOATS = st.one_of(st.floats(min_value=-1e12, max_value=1e12), st.just(math.nan))


def feed(series: BoundedSeries, values: np.ndarray, batches: list[int]) -> None:
    i = 0
    for b in batches:
        if i >= len(values):
            break
        j = min(len(values), i + b)
        series.extend(np.arange(i, j), np.arange(i, j) + 1e9, values[i:j])
        i = j
    if i < len(values):
        series.extend(np.arange(i, len(values)), np.arange(i, len(values)) + 1e9, values[i:])


@settings(max_examples=150, deadline=None)
@given(n=st.integers(0, 30000), recent=st.integers(1, 300), history=st.integers(8, 400),
       batches=st.lists(st.integers(1, 5000), min_size=1, max_size=30),
       seed=st.integers(0, 2 ** 32 - 1), nan_every=st.sampled_from([0, 7, 1000]))
def test_series_is_bounded_exact_recently_and_keeps_the_envelope(n, recent, history, batches,
                                                                  seed, nan_every):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=n).cumsum()
    if nan_every:
        values[::nan_every] = np.nan
    s = BoundedSeries(recent, history)
    feed(s, values, batches)
    a = s.arrays()
    assert s.seen == n
    assert s.held == len(a.steps) <= s.slack_cap + history + 2
    assert len(a.steps) == len(a.walls) == len(a.values)
    # arrival order kept, every held point is a real point
    assert np.all(np.diff(a.steps) > 0)
    assert np.array_equal(a.walls, a.steps + 1e9)
    assert np.array_equal(a.values, values[a.steps], equal_nan=True)
    # the newest points are exact
    k = min(n, recent)
    assert np.array_equal(a.steps[len(a.steps) - k:], np.arange(n - k, n))
    # the envelope survives decimation: the extremes of all data are held
    fin = values[~np.isnan(values)]
    if len(fin):
        assert np.nanmin(a.values) == fin.min() and np.nanmax(a.values) == fin.max()
    if n:
        assert s.last().step == n - 1


def test_store_memory_is_bounded_per_series():
    store = MetricStore(recent=256, history=512)
    for tag in range(20):
        for _ in range(10):
            v = np.random.default_rng(tag).normal(size=50000)
            store.extend("r", "t%d" % tag, np.arange(50000), v, np.zeros(50000))
    per_series = (store.recent + store.recent // 4 + store.history) * 24
    assert store.memory_bytes() <= 20 * per_series
    info = {t.tag: t for t in store.tag_infos("r")}
    assert info["t3"].seen == 500000 and info["t3"].held <= 256 + 64 + 512 + 2


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.one_of(st.floats(min_value=-1e6, max_value=1e6),
                                 st.sampled_from([math.nan, math.inf, -math.inf])),
                       max_size=400),
       weight=st.floats(0.0, 0.999))
def test_ema_matches_tensorboards_algorithm(values, weight):
    got = ema(np.array(values, dtype=np.float64), weight)
    want = ema_reference(values, weight)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert (g == w) or (math.isnan(g) and math.isnan(w)) or math.isclose(
            g, w, rel_tol=1e-9, abs_tol=1e-9 * (1 + max(abs(x) for x in values if
                                                         math.isfinite(x))))


def test_ema_known_values():
    # last = 0.5*0 + 0.5*1 = 0.5 / (1-0.5) = 1; last = 0.25+1 = 1.25 / 0.75; ...
    assert ema(np.array([1.0, 2.0, 3.0]), 0.5).tolist() == pytest.approx(
        [1.0, 1.25 / 0.75, (0.625 + 1.5) / 0.875])
    assert ema(np.array([4.0, 4.0]), 0.9).tolist() == [4.0, 4.0]       # constant: unchanged
    assert ema(np.array([1.0, 2.0]), 0.0).tolist() == [1.0, 2.0]
    out = ema(np.array([1.0, math.nan, 3.0]), 0.5)
    assert out[0] == 1.0 and math.isnan(out[1]) and out[2] == pytest.approx(1.75 / 0.75)


@settings(max_examples=300, deadline=None)
@given(xs=st.lists(st.integers(-1000, 1000), min_size=0, max_size=300),
       columns=st.integers(1, 50), data=st.data())
def test_minmax_columns_against_brute_force(xs, columns, data):
    x = np.array(sorted(xs), dtype=np.float64)
    y = np.array(data.draw(st.lists(FLOATS, min_size=len(xs), max_size=len(xs))),
                 dtype=np.float64)
    lo = data.draw(st.integers(-1100, 1000))
    hi = lo + data.draw(st.integers(1, 2000))
    c = minmax_columns(x, y, columns, lo, hi)
    width = (hi - lo) / columns
    for j in range(columns):
        a, b = lo + j * width, lo + (j + 1) * width
        if j == columns - 1:
            inside = (x >= a) & (x <= hi)
        else:
            inside = (x >= a) & (x < b) if j else (x >= lo) & (x < b)
        # float column arithmetic: points exactly on an edge may fall either side
        near = np.isclose(x, a) | np.isclose(x, b)
        if near[inside].any() or near[(x >= lo) & (x <= hi)].any():
            continue
        ys = y[inside]
        assert c.count[j] == len(ys)
        fin = ys[~np.isnan(ys)]
        if len(fin):
            assert c.ymin[j] == fin.min() and c.ymax[j] == fin.max()
        if len(ys):
            assert (c.ylast[j] == ys[-1]) or (math.isnan(c.ylast[j]) and math.isnan(ys[-1]))
    assert c.count.sum() == np.count_nonzero((x >= lo) & (x <= hi))


def test_downsample_overlay_and_alignment_of_two_runs():
    store = MetricStore()
    store.extend("a", "loss", [0, 10, 20, 30], [4.0, 3.0, 2.0, 1.0], [100, 110, 120, 130])
    store.extend("b", "loss", [5, 15, 45], [9.0, 8.0, 7.0], [500, 520, 540])
    ov = store.overlay([("a", "loss"), ("b", "loss")], columns=9)
    assert (ov.lo, ov.hi) == (0.0, 45.0)
    assert ov.series[("a", "loss")].count.sum() == 4
    assert ov.series[("b", "loss")].count.tolist() == [0, 1, 0, 1, 0, 0, 0, 0, 1]
    assert ov.y_range() == (1.0, 9.0)
    rel = store.overlay([("a", "loss"), ("b", "loss")], columns=4, x="relative")
    assert (rel.lo, rel.hi) == (0.0, 40.0)
    al = store.aligned([("a", "loss"), ("b", "loss")], [0, 5, 25, 100])
    assert np.array_equal(al, [[4.0, 4.0, 2.0, 1.0], [np.nan, 9.0, 8.0, 7.0]], equal_nan=True)
    cols = store.downsample("a", "loss", 2, smoothing=0.5)
    assert cols.ylast[-1] == pytest.approx(ema(np.array([4.0, 3, 2, 1]), 0.5)[-1])
    assert store.downsample("nope", "loss", 3) is None


def test_points_without_time_are_left_out_of_time_axes():
    store = MetricStore()
    store.extend("r", "x", [1, 2, 3], [1.0, 2.0, 3.0], [math.nan, 10.0, 11.0])
    xs, ys = store.xy("r", "x", x="wall")
    assert xs.tolist() == [10.0, 11.0] and ys.tolist() == [2.0, 3.0]
    assert store.xy("r", "x", x="step")[0].tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError):
        store.xy("r", "x", x="epoch")


def test_out_of_order_steps_are_sorted_for_drawing():
    x, y = sorted_xy(np.array([3.0, 1.0, 2.0, 1.0]), np.array([30.0, 10.0, 20.0, 11.0]))
    assert x.tolist() == [1.0, 1.0, 2.0, 3.0] and y.tolist() == [10.0, 11.0, 20.0, 30.0]
    assert last_at(x, y, np.array([0.5, 1.0, 2.5])).tolist()[1:] == [11.0, 20.0]


def test_versions_tell_a_renderer_what_changed():
    store = MetricStore()
    v0 = store.version
    store.extend("r", "a", [1], [1.0])
    va = store.tag_version("r", "a")
    assert store.version > v0 and store.run_version("r") == store.version
    store.extend("r", "b", [1], [1.0])
    assert store.tag_version("r", "a") == va < store.tag_version("r", "b")
    store.extend("r", "a", [], [])
    assert store.tag_version("r", "a") == va


def test_concurrent_appends_and_reads_stay_consistent():
    store = MetricStore(recent=64, history=128)
    stop = threading.Event()
    errors = []

    def writer():
        step = 0
        while not stop.is_set() and step < 200000:
            n = 1 + step % 97
            store.extend("r", "x", np.arange(step, step + n), np.arange(step, step + n) * 2.0,
                         np.arange(step, step + n) * 1.0)
            step += n

    def reader():
        try:
            while not stop.is_set():
                snap = store.snapshot("r", "x")
                if snap is None:
                    continue
                assert len(snap.steps) == len(snap.values) == len(snap.walls)
                assert np.all(np.diff(snap.steps) > 0)
                assert np.array_equal(snap.values, snap.steps * 2.0)
                c = store.downsample("r", "x", 40, smoothing=0.6)
                assert c is not None and 0 < c.count.sum() <= 64 + 16 + 128 + 2
        except Exception as e:             # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader)
                                                   for _ in range(2)]
    for t in threads:
        t.start()
    threads[0].join(timeout=60)
    stop.set()
    for t in threads[1:]:
        t.join(timeout=10)
    assert not errors, errors
    assert store.tag_infos("r")[0].seen >= 200000
