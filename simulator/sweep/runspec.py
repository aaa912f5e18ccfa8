"""A run of a sweep: one parameter point, one replication, one seed — and its content-hashed id.

A run is the scenario with the point's values set, ``replications=1`` and a seed of its own, paired with its
no-policy baseline. The seed of replication ``r`` is drawn from child ``r`` of ``SeedSequence(root seed)``, so
the same replication index gets the same seed at every point (common random numbers across the design), and
adding points or replications changes no existing seed.

The id hashes what determines the result: the resolved scenario (with its world values), the point, the seed,
the replication and the simulator version. Equal ids mean the same result, which makes the store resumable.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

ID_CHARS = 20


def replication_seed(root: int, replication: int) -> int:
    """Seed (0 <= seed < 2**63) of replication ``replication``, from the root seed via ``SeedSequence``."""
    child = np.random.SeedSequence(root, spawn_key=(replication,))
    return int(child.generate_state(1, np.uint64)[0] >> np.uint64(1))


def _canon(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str, allow_nan=True)


def point_digest(scenario_dump: dict, world_values: dict, point: dict[str, Any]) -> str:
    """SHA-256 of a resolved point (scenario fields except seed/replications/sweep, world values, point)."""
    sc = {k: v for k, v in scenario_dump.items() if k not in ("seed", "replications", "sweep")}
    return hashlib.sha256(_canon({"scenario": sc, "world": world_values, "point": point}).encode()).hexdigest()


def run_id(point_hash: str, seed: int, replication: int, version: str) -> str:
    """Content-hashed id of a run."""
    text = _canon({"point": point_hash, "seed": seed, "replication": replication, "version": version})
    return hashlib.sha256(text.encode()).hexdigest()[:ID_CHARS]


@dataclass(frozen=True)
class RunSpec:
    """Everything a worker needs to do one run; small and picklable."""

    run_id: str
    point: int                         # index of the parameter point in the design
    replication: int
    seed: int
    params: tuple[tuple[str, Any], ...]  # (key, value) in design key order
    sets: tuple[str, ...]              # --set texts of the point (fixed --set values, then the swept values)
    scenario_file: str                 # absolute path, readable by every worker
    out: str                           # absolute sweep folder, writable by every worker
