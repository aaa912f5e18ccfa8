"""Every day of every replication back from the workers through files, not pickles (``Recorder.move_to``)."""
from __future__ import annotations

import mmap
import os
import pickle

import numpy as np
import pytest

import simulator
from simulator import runner
from simulator.engine.recorder import Recorder


def _on_a_mapping(a: np.ndarray) -> bool:
    while a is not None and not isinstance(a, mmap.mmap):
        a = getattr(a, "base", None) if not isinstance(a, memoryview) else a.obj
    return isinstance(a, mmap.mmap)


def _recorder() -> tuple[Recorder, np.ndarray]:
    rec = Recorder(5)
    lanes = np.arange(5 * 3 * 4, dtype=float).reshape(5, 3, 4)          # (days, lanes, series): a strided lane
    rec.block([("a", "x", "t"), ("b", "x", "t"), ("c", "x", "t"), ("d", "x", "t")], arr=lanes[:, 1, :])
    rec.series("alone", "y", "t")[:] = [1, 2, 3, np.nan, 5]
    rec.event(2, "m", "effective", "test")
    return rec, lanes[:, 1, :].copy()


def test_a_moved_recorder_unpickles_onto_its_file_and_removes_its_name(tmp_path):
    rec, days = _recorder()
    path = tmp_path / "r"
    rec.move_to(str(path))
    blob = pickle.dumps(rec)
    assert path.stat().st_size == days.nbytes and len(blob) < days.nbytes + 2000   # the days are not in the pickle
    back = pickle.loads(blob)
    assert not path.exists()
    assert np.array_equal(back.matrix(["a.x", "d.x"]), days[:, [0, 3]].T)
    assert np.array_equal(back.get("alone.y"), [1, 2, 3, np.nan, 5], equal_nan=True)
    assert back.events[0].cause == "test" and _on_a_mapping(back.data["b.x"])
    back.data["b.x"][0] = -1.0                                          # copy on write: writable, file untouched
    assert back.matrix(["b.x"])[0, 0] == -1.0


def test_a_recorder_that_could_not_move_is_pickled_whole(tmp_path):
    rec, days = _recorder()
    with pytest.raises(OSError):
        rec.move_to(str(tmp_path / "missing" / "r"))
    back = pickle.loads(pickle.dumps(rec))
    assert np.array_equal(back.matrix(["a.x", "b.x", "c.x", "d.x"]), days.T) and not _on_a_mapping(back.data["a.x"])


def test_workers_send_every_day_by_file_the_same_days_and_leave_no_file(tmp_path, monkeypatch):
    folders = []

    def folder() -> str:
        folders.append(str(tmp_path / f"days{len(folders)}"))
        os.mkdir(folders[-1])
        return folders[-1]
    monkeypatch.setattr(runner, "days_folder", folder)
    kw = dict(replications=3, horizon="40d", progress=False)
    one = simulator.run("scenarios/japan_servicing_ban.yaml", jobs=1, **kw)
    two = simulator.run("scenarios/japan_servicing_ban.yaml", jobs=2, **kw)
    assert len(folders) == 1 and not os.path.exists(folders[0])
    for a, b in zip(one.pairs, two.pairs):
        for which in ("scenario", "baseline"):
            ra, rb = getattr(a, which), getattr(b, which)
            keys = list(ra.data)
            assert keys == list(rb.data)
            assert np.array_equal(ra.matrix(keys), rb.matrix(keys), equal_nan=True)
            assert _on_a_mapping(rb.parts()[0][0]) and not _on_a_mapping(ra.parts()[0][0])


def test_keeping_every_day_above_the_memory_limit_is_refused_before_running(monkeypatch):
    monkeypatch.setenv("SIMULATE_MAX_MEMORY_GB", "0.001")          # 1 MB; 2 replications of 40 days keep ~3.6 MB
    kw = dict(replications=2, horizon="40d", progress=False)
    with pytest.raises(ValueError, match=r"needs about 4 MB .*limit of 1 MB; run with keep_daily=False"):
        simulator.run("scenarios/japan_servicing_ban.yaml", **kw)
    assert simulator.run("scenarios/japan_servicing_ban.yaml", keep_daily=False, **kw).summary is not None


def test_days_stay_in_the_pickle_where_the_folder_would_be_left_without_room(tmp_path, monkeypatch):
    rec, days = _recorder()
    pair = runner.Pair(0, 0, rec, pickle.loads(pickle.dumps(rec)))
    monkeypatch.setattr(runner, "_room_left", lambda size: 1 << 62)      # never enough room
    runner._move_days([pair], str(tmp_path), 0)
    assert not os.listdir(tmp_path) and rec._moved is None
    monkeypatch.setattr(runner, "_room_left", lambda size: 0)
    runner._move_days([pair], str(tmp_path), 0)
    assert sorted(os.listdir(tmp_path)) == ["0-0-baseline", "0-0-scenario"] and rec.nbytes == days.nbytes
