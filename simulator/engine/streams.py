"""Named random streams: one ``numpy.random.Generator`` per named process, derived from the replication seed.

A stream is keyed by a stable name (``"fabs.mature_logic.etch.Japan"``), not by creation order, so adding a
mechanism does not change the draws of the others, and a scenario and its baseline draw the same numbers from
the same stream (common random numbers).
"""
from __future__ import annotations

import zlib

import numpy as np


def replication_seeds(seed: int, replications: int) -> list[np.random.SeedSequence]:
    """Children of the root ``SeedSequence(seed)``: one per replication, independent of how many there are."""
    root = np.random.SeedSequence(seed)
    return [np.random.SeedSequence(entropy=root.entropy, spawn_key=(i,)) for i in range(replications)]


class Streams:
    """Hands out one generator per name, built from the replication's seed sequence and the name's CRC-32."""

    def __init__(self, seed_seq: np.random.SeedSequence):
        self._seq = seed_seq
        self._cache: dict[str, np.random.Generator] = {}

    def get(self, name: str) -> np.random.Generator:
        """The generator for ``name``; the same name always gives the same sequence within a replication."""
        gen = self._cache.get(name)
        if gen is None:
            key = tuple(self._seq.spawn_key) + (zlib.crc32(name.encode("utf-8")),)
            gen = np.random.default_rng(np.random.SeedSequence(entropy=self._seq.entropy, spawn_key=key))
            self._cache[name] = gen
        return gen
