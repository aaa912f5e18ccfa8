"""The store of parsed YAML documents (``scenario.parse_store``): a stored parse gives what a fresh parse gives,
values and positions; a damaged or hostile stored file is never trusted; a store that cannot be written is no
error; error messages keep their line and column."""
from __future__ import annotations

import datetime as dt
import os
import pickle
from pathlib import Path

import pytest

from simulator.scenario import parse_store, yamlsafe
from simulator.scenario.yamlsafe import Mark, load_text

WORLD = Path(yamlsafe.__file__).parent / "world" / "default"


@pytest.fixture
def store(tmp_path, monkeypatch):
    """An empty store of this test's own, and no document kept by this process."""
    monkeypatch.setenv(parse_store.ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(yamlsafe, "_CACHE", {})
    return tmp_path / "cache" / "yaml"


def _parses(monkeypatch) -> list[int]:
    """Count the real parses from here on."""
    n: list[int] = []
    real = yamlsafe._parse

    def counted(text, trusted):
        n.append(1)
        return real(text, trusted)
    monkeypatch.setattr(yamlsafe, "_parse", counted)
    return n


@pytest.mark.parametrize("name", sorted(p.name for p in WORLD.glob("*.yaml")))
def test_a_stored_parse_gives_the_values_and_positions_of_a_fresh_one(name, store, monkeypatch):
    text = (WORLD / name).read_text()
    fresh = yamlsafe._parse(text, True)
    first = load_text(text, trusted=True)                   # parsed, then stored
    assert len(list(store.glob("*.data"))) == 1
    monkeypatch.setattr(yamlsafe, "_CACHE", {})             # a new process: only the store is left
    parses = _parses(monkeypatch)
    again = load_text(text, trusted=True)
    assert parses == []                                     # read back, not parsed
    assert pickle.dumps(again.data) == pickle.dumps(fresh.data) == pickle.dumps(first.data)
    assert again.marks == fresh.marks and again.key_marks == fresh.key_marks


def test_dates_and_positions_survive_the_store(store, monkeypatch):
    text = "when: 2025-03-01\n" + "".join(f"k{i}: {{value: {i}.5, note: text {i}}}\n" for i in range(400))
    load_text(text)
    monkeypatch.setattr(yamlsafe, "_CACHE", {})
    doc = load_text(text)
    assert doc.data["when"] == dt.date(2025, 3, 1) and doc.data["k399"]["value"] == 399.5
    assert doc.mark_of(("k7", "note")) == Mark(9, 24)          # k7: {value: 7.5, note: text 7}


def test_positions_removed_from_the_store_are_parsed_again(store, monkeypatch):
    text = (WORLD / "fabs.yaml").read_text()
    fresh = yamlsafe._parse(text, True)
    load_text(text, trusted=True)
    monkeypatch.setattr(yamlsafe, "_CACHE", {})
    doc = load_text(text, trusted=True)                     # values from the store
    next(store.glob("*.marks")).unlink()                    # its positions gone before an error needs them
    assert doc.marks == fresh.marks and doc.key_marks == fresh.key_marks


def test_callers_get_their_own_copy(store):
    text = (WORLD / "industries.yaml").read_text()
    a = load_text(text, trusted=True)
    a.data.clear()
    assert load_text(text, trusted=True).data                # not the emptied copy


@pytest.mark.parametrize("damage", ["truncated", "garbage", "hostile"])
def test_a_damaged_or_hostile_stored_file_is_parsed_again(damage, store, monkeypatch, tmp_path):
    text = (WORLD / "components.yaml").read_text()
    expected = pickle.dumps(load_text(text, trusted=True).data)
    data = next(store.glob("*.data"))
    if damage == "truncated":
        data.write_bytes(data.read_bytes()[:100])
    elif damage == "garbage":
        data.write_bytes(b"not a pickle at all")
    else:                                                   # a pickle that would run a command when loaded
        flag = tmp_path / "ran"
        data.write_bytes(pickle.dumps(_Hostile(str(flag))))
    monkeypatch.setattr(yamlsafe, "_CACHE", {})
    parses = _parses(monkeypatch)
    assert pickle.dumps(load_text(text, trusted=True).data) == expected
    assert parses == [1]
    if damage == "hostile":
        assert not (tmp_path / "ran").exists()


class _Hostile:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_the_store_off_or_unwritable_is_no_error(tmp_path, monkeypatch):
    text = (WORLD / "economy.yaml").read_text()
    monkeypatch.setattr(yamlsafe, "_CACHE", {})
    monkeypatch.setenv(parse_store.ENV, "off")
    assert load_text(text, trusted=True).data
    blocked = tmp_path / "file"
    blocked.write_text("a file where the store's folder would be")
    monkeypatch.setattr(yamlsafe, "_CACHE", {})
    monkeypatch.setenv(parse_store.ENV, str(blocked))
    assert load_text(text, trusted=True).data
    assert blocked.read_text().startswith("a file")


def test_short_texts_and_failed_parses_are_not_stored(store):
    load_text("a: 1\n")
    with pytest.raises(yamlsafe.YamlError):
        load_text("a: [1, 2\n" + "b: 3\n" * 2000)
    assert not store.exists() or list(store.iterdir()) == []


def test_the_store_keeps_its_newest_documents(store, monkeypatch):
    monkeypatch.setattr(parse_store, "KEEP", 3)
    texts = [f"n: {i}\n" + "x: " + "y" * parse_store.MIN_CHARS + "\n" for i in range(5)]
    for i, t in enumerate(texts):
        load_text(t)
        for p in store.glob("*.data"):                      # file times a second apart, oldest first
            os.utime(p, ns=(p.stat().st_mtime_ns - 10**9, p.stat().st_mtime_ns - 10**9))
    assert len(list(store.glob("*.data"))) == 3 and len(list(store.glob("*.marks"))) == 3
    monkeypatch.setattr(yamlsafe, "_CACHE", {})
    parses = _parses(monkeypatch)
    load_text(texts[4])
    load_text(texts[0])
    assert parses == [1]                                    # the newest kept, the oldest parsed again


def test_a_world_error_keeps_its_position_when_the_world_was_stored(store, tmp_path, monkeypatch):
    """A user world whose value breaks its range: the message points at the file, line and column, whether the
    world's text was parsed now or read back from the store (its positions read only for the message)."""
    from simulator.scenario.world_data import WorldError, _read, World
    text = (WORLD / "economy.yaml").read_text()
    bad = text + "\nbroken_section:\n  unsourced: {value: 1, unit: t}\n"   # a parameter without its source
    lines = []
    for attempt in range(2):
        monkeypatch.setattr(yamlsafe, "_CACHE", {})
        with pytest.raises(WorldError) as exc:
            _read(bad, "economy.yaml", World({}, {}, [], {}))
        lines.append(exc.value.mark)
        assert "needs a 'source'" in exc.value.message
    assert lines[0] == lines[1] == Mark(bad.count("\n"), 14)
