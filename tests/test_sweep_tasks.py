"""A sweep task carrying several runs gives each run the record it has alone (its replications as lanes)."""
import json
from pathlib import Path

import pytest

from simulator.sweep import batch, worker
from simulator.sweep.runspec import RunSpec, replication_seed

ROOT = Path(__file__).resolve().parents[1]


def _specs(out: Path, sets: tuple[str, ...]) -> list[RunSpec]:
    f = str(ROOT / "scenarios" / "japan_servicing_ban.yaml")
    return [RunSpec(f"run{r}", 0, r, replication_seed(11, r), (), sets, f, str(out)) for r in range(3)]


def _records(out: Path) -> dict[str, dict]:
    recs = {}
    for p in sorted((out / "runs").glob("*.json")):
        rec = json.loads(p.read_text())
        rec.pop("runtime_s")
        rec.pop("sha256", None)                 # the checksum covers the runtime too
        recs[p.name] = rec
    return recs


def test_a_task_of_one_points_runs_equals_the_runs_one_by_one(tmp_path: Path, monkeypatch):
    sets = ("horizon=200d",)
    (tmp_path / "a" / "runs").mkdir(parents=True)
    (tmp_path / "b" / "runs").mkdir(parents=True)
    one = [worker.execute(s) for s in _specs(tmp_path / "a", sets)]
    monkeypatch.setattr(worker, "execute", lambda spec: (_ for _ in ()).throw(AssertionError("ran alone")))
    together = worker.execute_batch(_specs(tmp_path / "b", sets))
    assert one == together and all(r["status"] == "succeeded" for r in one)
    a, b = _records(tmp_path / "a"), _records(tmp_path / "b")
    assert a == b and len(a) == 3
    assert len({json.dumps(r["summary"], sort_keys=True) for r in a.values()}) == 3    # seeds differ


def test_tasks_cut_runs_into_consecutive_groups_sized_by_lane_days():
    todo = list(range(1000))
    got = batch.tasks(todo, 2, 365)
    assert [x for t in got for x in t] == todo
    assert max(len(t) for t in got) == min(batch.MAX_TASK_RUNS, batch.TASK_LANE_DAYS // 365)
    assert max(len(t) for t in batch.tasks(todo, 2, 1096)) == batch.TASK_LANE_DAYS // 1096    # longer runs
    assert max(len(t) for t in batch.tasks(todo, 2, 30)) == batch.MAX_TASK_RUNS
    assert [len(t) for t in batch.tasks(list(range(6)), 2)] == [1] * 6


def test_points_differing_in_a_measure_run_as_lanes_with_their_own_numbers(tmp_path: Path, monkeypatch):
    f = str(ROOT / "scenarios" / "japan_servicing_ban.yaml")
    specs = []
    for p, comp in enumerate((0.5, 0.9)):
        sets = ("horizon=200d", f"controls.jp_servicing_ban.compliance={comp}")
        for r in range(2):
            specs.append(RunSpec(f"p{p}r{r}", p, r, replication_seed(11, r), (("c", comp),), sets, f, ""))
    for sub in ("a", "b"):
        (tmp_path / sub / "runs").mkdir(parents=True)
    one = [worker.execute(s.__class__(**{**s.__dict__, "out": str(tmp_path / "a")})) for s in specs]

    def not_alone(spec):
        raise AssertionError(f"{spec.run_id} ran alone, not as a lane of the batch")
    monkeypatch.setattr(worker, "execute", not_alone)
    together = worker.execute_batch([s.__class__(**{**s.__dict__, "out": str(tmp_path / "b")}) for s in specs])
    assert one == together
    a, b = _records(tmp_path / "a"), _records(tmp_path / "b")
    assert a == b and len(a) == 4
    assert a["p0r0.json"]["summary"] != a["p1r0.json"]["summary"]          # compliance changed the outcome
    key = worker._lane_key
    from simulator.sweep.cache import load_point
    assert key(load_point(f, specs[0].sets)) == key(load_point(f, specs[2].sets))   # one batch of lanes
    for world in ("minerals.common.spot.transport_days=9", "overrides.minerals.common.spot.transport_days=9"):
        other = load_point(f, specs[0].sets + (world,))                      # another world: another batch
        assert other.world.values != load_point(f, specs[0].sets).world.values
        assert key(other) != key(load_point(f, specs[0].sets))
        assert key(other) == key(load_point(f, specs[2].sets + (world,)))


def _plan(tmp_path: Path, grid: str):
    from simulator.sweep.design import grid_factor, DesignSpec
    f = str(ROOT / "scenarios" / "japan_servicing_ban.yaml")
    return batch.make_plan(f, DesignSpec([grid_factor(grid)], replications=1), ["horizon=30d"], tmp_path)


def test_plan_builds_the_model_once_for_points_differing_only_in_numbers(tmp_path: Path, monkeypatch):
    from simulator.scenario import load
    calls = []
    checks = [lambda *a, _c=c: calls.append(1) or _c(*a) for c in load.MODEL_CHECKS]
    monkeypatch.setattr(load, "MODEL_CHECKS", checks)
    plan = _plan(tmp_path, "controls.jp_servicing_ban.compliance=0.5,0.6,0.7,0.8")
    assert len(plan.specs) == 4 and plan.days == 30
    assert len(calls) == 3           # the base scenario, the key check (first level), the first point


@pytest.mark.parametrize("key", ["overrides.minerals.common.spot.transport_days",
                                 "minerals.common.spot.transport_days"])          # a world path either way
def test_plan_still_reports_a_later_point_whose_world_values_the_model_cannot_use(tmp_path: Path, key: str):
    from simulator.scenario.errors import ScenarioError
    with pytest.raises(ScenarioError) as exc:
        _plan(tmp_path, f"{key}=5,300")
    assert "sweep point 1" in str(exc.value) and "the model cannot run with these world values" in str(exc.value)


def test_a_sweep_writes_its_tables_without_reading_back_the_runs_it_did(tmp_path: Path, monkeypatch):
    """The parent keeps what the tables need from each finished task (status, error, headline metrics, as
    stored), so a sweep does not parse its own ~200 KB run files again at the end."""
    from simulator.sweep import store
    plan = _plan(tmp_path, "controls.jp_servicing_ban.compliance=0.5,0.9")
    reads = []
    real = store.read_run
    monkeypatch.setattr(store, "read_run", lambda out, rid: reads.append(rid) or real(out, rid))
    counts = batch.execute(plan, tmp_path, jobs=1, progress=False)       # the folder the plan was made for
    assert counts[store.SUCCEEDED] == 2 and reads == []
    rows = (tmp_path / "runs.csv").read_text().splitlines()
    stored = [real(tmp_path, s.run_id)["metrics"] for s in plan.specs]
    assert len(rows) == 3 and all(m for m in stored)      # the files hold what the tables were written from
