"""The results store is created with its schema in one step: a reader never sees a store without its tables."""

from __future__ import annotations

import os
import sqlite3

from wce_ref.compare.engine import _store


def test_a_new_store_appears_with_its_tables(tmp_path, monkeypatch):
    path = tmp_path / "s.sqlite"
    seen: list[set[str]] = []
    link = os.link

    def watching_link(src, dst):  # the moment the store appears under its name: what would a reader find?
        with sqlite3.connect(src) as con:
            seen.append({r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")})
        con.close()
        assert not os.path.exists(dst)
        return link(src, dst)

    monkeypatch.setattr(os, "link", watching_link)
    store = _store.Store(path)
    store.close()
    assert seen == [{"results", "failures", "runs"}]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []  # the temporary file is gone


def test_a_store_created_meanwhile_by_another_process_is_kept(tmp_path):
    path = tmp_path / "s.sqlite"
    other = _store.Store(path)  # the other process's store, with a row of its own
    other.con.execute("INSERT INTO runs (config_hash, suite, started) VALUES ('h', 'x', 1.0)")
    other.con.commit()
    _store._create(path)  # a second creator lost the race: its file does not replace the store
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
    other.close()
