"""Charts drawn by forked chart processes and the parent sharing one queue of figures (``report.painters``).

Each figure is handed out once; the files do not depend on which process draws which figure; figures a
failed chart process left undone are drawn by the parent.
"""
from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path

import pytest

from simulator.api import run_loaded
from simulator.report import painters, plots
from simulator.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = str(ROOT / "scenarios" / "japan_servicing_ban.yaml")
SETS = ["horizon=120d", "replications=3", "seed=5"]


@pytest.fixture(scope="module")
def res():
    return run_loaded(load_scenario(SCENARIO, SETS), progress=False)


def chart_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "plots").iterdir())} | \
        {"report.html": (folder / "report.html").read_bytes()}


def test_queue_hands_out_every_figure_once_and_knows_the_undone():
    q = painters.ChartQueue(3, mp.get_context())
    assert [q.take(), q.take(), q.take(), q.take()] == [0, 1, 2, None]
    q.finish(0)
    q.finish(2)
    assert q.undone() == [1]


def test_plan_puts_the_figure_with_most_panels_first(res):
    counts = [len(panels) for _, _, panels in plots.plan(res)]
    assert counts and counts == sorted(counts, reverse=True)


def test_charts_do_not_depend_on_which_process_draws_them(res, tmp_path, monkeypatch):
    forked = chart_bytes(res.write(tmp_path / "forked"))
    monkeypatch.setattr(mp, "get_all_start_methods", lambda: ["spawn"])   # the parent draws them all, alone
    alone = chart_bytes(res.write(tmp_path / "alone"))
    assert len(forked) > 2 and forked == alone


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="chart processes need fork")
def test_figures_of_a_failed_chart_process_are_drawn_by_the_parent(res, tmp_path, monkeypatch, capfd):
    good = chart_bytes(res.write(tmp_path / "good"))
    parent = os.getpid()
    real = plots._figure

    def dies_in_a_child(*a, **k):
        if os.getpid() != parent:
            os._exit(3)
        return real(*a, **k)
    monkeypatch.setattr(plots, "_figure", dies_in_a_child)
    assert chart_bytes(res.write(tmp_path / "again")) == good
    assert "chart process failed (exit 3); drawing inline" in capfd.readouterr().err


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="chart processes need fork")
def test_chart_processes_freeze_what_they_inherit_and_the_parent_does_not(res, tmp_path, monkeypatch):
    """A chart process freezes what it inherits (``gc.freeze``: the parent's libraries and results), so its
    collections walk only the figures it makes; the parent (a notebook's process, say) freezes nothing."""
    import gc
    parent = os.getpid()
    real = plots._figure

    def records(*a, **k):
        if os.getpid() != parent:
            (tmp_path / f"frozen-{os.getpid()}").write_text(str(gc.get_freeze_count()))
        return real(*a, **k)
    monkeypatch.setattr(plots, "_figure", records)
    before = gc.get_freeze_count()
    res.write(tmp_path / "run")
    counts = [int(f.read_text()) for f in tmp_path.glob("frozen-*")]
    assert counts and min(counts) > 1000
    assert before == gc.get_freeze_count() == 0


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="chart processes need fork")
def test_an_interrupt_while_charts_are_drawn_ends_the_chart_processes_at_once(res, tmp_path, monkeypatch):
    """Ctrl-C once the tables are written, while the chart processes draw: they are ended with SIGTERM where
    they are (here in a figure that would take 30 s), not after the figures left in the queue, and the
    temporary folder is gone."""
    import signal
    import time
    parent = os.getpid()
    real = plots._figure

    def slow_in_a_child(*a, **k):
        if os.getpid() != parent:
            time.sleep(30)
            os._exit(0)
        return real(*a, **k)

    def interrupted(self):
        raise KeyboardInterrupt
    monkeypatch.setattr(plots, "_figure", slow_in_a_child)
    monkeypatch.setattr(painters.Painters, "finish", interrupted)
    started = []
    start = painters.start

    def keep(*a, **k):
        started.append(start(*a, **k))
        return started[-1]
    monkeypatch.setattr(painters, "start", keep)
    with pytest.raises(KeyboardInterrupt):
        res.write(tmp_path / "run")
    assert started and started[0].procs
    assert [proc.exitcode for proc in started[0].procs] == [-signal.SIGTERM] * len(started[0].procs)
    assert list(tmp_path.iterdir()) == []
