"""The results store: an embedded SQLite database, one row per finished cell, written as it finishes.

A cell's key covers (suite config hash, dataset, strategy, model, framework,
repeat, fold, seed); ``INSERT OR IGNORE`` on that primary key means a resumed or
repeated run never counts a cell twice, and each row is committed on its own,
so a killed run loses at most the cells in flight. A failed cell is retried by
the next run: its row moves to the ``failures`` table (the history of every
failure) when the retry's row replaces it.

Cells are deterministic given their key, so the ``ok`` cells of one store can
serve another suite with the same configuration hash (:meth:`Store.reuse`, the
``--reuse`` option): the same computation is not run twice.

A store is committed as its compact export (:func:`export`: ``compare-SUITE.sqlite.xz``, the store
vacuumed and compressed with xz, byte-identical for the same cells): reports render from it and a run
resumes from it (``--reuse``); a ``.xz`` path opens read-only, decompressed into a temporary directory.

Each run is recorded in ``runs`` when it starts (``ended`` empty, with its
process id and host) and completed when it ends, so a report can tell a run
still in progress, or one that was killed, from a finished one.
"""

from __future__ import annotations

import json
import lzma
import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    config_hash TEXT NOT NULL, suite TEXT NOT NULL, dataset TEXT NOT NULL, strategy TEXT NOT NULL,
    model TEXT NOT NULL, framework TEXT NOT NULL, repeat INTEGER NOT NULL, fold INTEGER NOT NULL,
    seed INTEGER NOT NULL, status TEXT NOT NULL, metrics TEXT, error TEXT, seconds REAL, epochs INTEGER,
    n_train INTEGER, n_train_resampled INTEGER, finished REAL, converged INTEGER, stop TEXT,
    PRIMARY KEY (config_hash, dataset, strategy, model, framework, repeat, fold, seed)
)
"""
# the failed rows a retry replaced: the same columns as results, without the key's uniqueness
FAILURES = "CREATE TABLE IF NOT EXISTS failures AS SELECT * FROM results WHERE 0"
RUNS = """
CREATE TABLE IF NOT EXISTS runs (
    config_hash TEXT, suite TEXT, started REAL, ended REAL, jobs INTEGER, scheduler TEXT, cells_total INTEGER,
    cells_run INTEGER, host TEXT, versions TEXT, pid INTEGER, cells_failed INTEGER
)
"""
RUN_COLUMNS = {"pid": "INTEGER", "cells_failed": "INTEGER"}  # added to stores written before they existed
#: columns of ``results`` and ``failures`` added to stores written before they existed (appended in this order
#: to both tables, so that a failed row still moves between them column for column)
RESULT_COLUMNS = {"converged": "INTEGER", "stop": "TEXT"}
#: statuses of a finished cell that is not retried: ``ok`` and ``inapplicable`` (its sampler could not act)
FINISHED = ("ok", "inapplicable")
_FINISHED_SQL = ", ".join(f"'{s}'" for s in FINISHED)
KEY = ("config_hash", "dataset", "strategy", "model", "framework", "repeat", "fold", "seed")
_WHERE_KEY = " AND ".join(f"{k} = ?" for k in KEY)


#: the suffix of a store's compact export
EXPORT_SUFFIX = ".sqlite.xz"


class StoreError(ValueError):
    """The results store cannot be opened (not a SQLite file, a directory, an unwritable place, missing)."""


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """Open for reading only; a WAL store in a read-only directory is opened as immutable."""
    if not path.is_file():
        what = "a directory" if path.is_dir() else "no such file"
        raise StoreError(f"db: no results store at {path} ({what}); give the SQLite file a `wce compare` run wrote")
    uri = f"file:{quote(str(path.resolve()))}"
    try:
        con = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=60)
        con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return con
    except sqlite3.OperationalError:  # cannot create the -shm file beside it: nobody writes there
        con = sqlite3.connect(f"{uri}?immutable=1", uri=True)
        con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return con


def _decompress(path: Path, into: Path) -> Path:
    if not path.is_file():
        raise StoreError(f"db: no results store at {path} (no such file); give a store `wce compare` wrote")
    dest = into / path.name.removesuffix(".xz")
    try:
        with lzma.open(path) as src, dest.open("wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
    except (lzma.LZMAError, EOFError) as exc:
        raise StoreError(f"db: {path} is not an xz-compressed store ({exc})") from None
    return dest


def export(db: str | Path, dest: str | Path) -> Path:
    """Write the store ``db`` as a compact, deterministic export ``dest`` (``*.sqlite.xz``).

    The store is copied with ``VACUUM INTO`` (its live rows in primary-key order, no free pages, no
    write-ahead log) and compressed with xz (preset 9); the same cells give the same bytes.
    """
    dest = Path(dest)
    if not dest.name.endswith(EXPORT_SUFFIX):
        raise StoreError(f"dest: an export is named *{EXPORT_SUFFIX}, got {dest.name!r}")
    src = Store(db, readonly=True)
    try:
        with tempfile.TemporaryDirectory(prefix="wce-export-") as tmp:
            flat = Path(tmp) / "store.sqlite"
            src.con.execute("VACUUM INTO ?", (str(flat),))
            dest.parent.mkdir(parents=True, exist_ok=True)
            part = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
            with flat.open("rb") as raw, lzma.open(part, "wb", preset=9) as out:
                shutil.copyfileobj(raw, out, 1 << 20)
            os.replace(part, dest)
    finally:
        src.close()
    return dest


def committed_export(suite: str) -> Path | None:
    """The committed export of ``suite``'s store (``reports/compare-SUITE.sqlite.xz`` of the working directory
    or of the source checkout the package runs from), or None."""
    name = f"compare-{suite}{EXPORT_SUFFIX}"
    for root in (Path.cwd(), Path(__file__).resolve().parents[3]):
        if (root / "reports" / name).is_file():
            return root / "reports" / name
    return None


def report_store(suite: str, out: str | Path) -> Path:
    """The store ``wce report compare`` reads by default: ``OUT/compare-SUITE.sqlite`` when a run wrote it,
    else its export in OUT, else the committed export; the first name when none exists (its error names it)."""
    plain = Path(out) / f"compare-{suite}.sqlite"
    for path in (plain, plain.with_name(plain.name + ".xz"), committed_export(suite)):
        if path is not None and path.is_file():
            return path
    return plain


def _add_columns(con: sqlite3.Connection, table: str, columns: dict[str, str]) -> None:
    have = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
    for column, kind in columns.items():
        if column not in have:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _create(path: Path) -> None:
    """Write a new store with its schema under a temporary name, then move it into place.

    A concurrent reader never sees the file without its tables; if another process created the store
    meanwhile, its file is kept.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    con = sqlite3.connect(tmp)
    with con:
        con.execute(SCHEMA)
        con.execute(FAILURES)
        con.execute(RUNS)
    con.close()
    try:
        os.link(tmp, path)  # atomic, and fails if the store appeared meanwhile
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def _connect_writable(path: Path) -> sqlite3.Connection:
    if path.is_dir():
        raise StoreError(f"db: {path} is a directory; give the path of a SQLite file")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        _create(path)
    con = sqlite3.connect(path, timeout=60)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute(SCHEMA)
    con.execute(FAILURES)
    con.execute(RUNS)
    _add_columns(con, "runs", RUN_COLUMNS)
    _add_columns(con, "results", RESULT_COLUMNS)
    _add_columns(con, "failures", RESULT_COLUMNS)
    con.commit()
    return con


class Store:
    """The SQLite store of a suite's results; ``readonly=True`` for reports (never writes, never creates)."""

    def __init__(self, path: str | Path, *, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        self._tmp: tempfile.TemporaryDirectory | None = None
        if self.path.name.endswith(".xz"):
            if not readonly:
                raise StoreError(f"db: {self.path} is a compressed export, read-only; write to a new store and "
                                 f"copy its cells in with `--reuse {self.path}` to resume from it")  # fmt: skip
            self._tmp = tempfile.TemporaryDirectory(prefix="wce-store-")
            try:
                path = _decompress(self.path, Path(self._tmp.name))
            except StoreError:
                self._tmp.cleanup()
                raise
        else:
            path = self.path
        try:
            self.con = _connect_readonly(path) if readonly else _connect_writable(path)
        except (sqlite3.Error, OSError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            if isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
                reason = "it is not a SQLite database (a results store is written by `wce compare`)"
            raise StoreError(f"db: cannot open the results store {self.path}: {reason}") from None
        if readonly and not self._has_table("results"):
            self.con.close()
            raise StoreError(f"db: {self.path} is a SQLite file without a results table (empty, or not written by "
                             "`wce compare`); give the store a `wce compare` run wrote")  # fmt: skip

    def _has_table(self, name: str) -> bool:
        row = self.con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
        return row.fetchone() is not None

    def _keys(self, hashes: str | tuple[str, ...], finished: bool) -> set[tuple]:
        hashes = (hashes,) if isinstance(hashes, str) else tuple(hashes)
        status = f"status {'IN' if finished else 'NOT IN'} ({_FINISHED_SQL})"
        rows = self.con.execute(
            f"SELECT {', '.join(KEY)} FROM results WHERE config_hash IN ({', '.join('?' * len(hashes))}) AND {status}",
            hashes,
        )
        return {tuple(r) for r in rows}

    def done_keys(self, hashes: str | tuple[str, ...]) -> set[tuple]:
        """Keys of the finished cells (``ok`` or ``inapplicable``): a failed cell is not done and is retried."""
        return self._keys(hashes, True)

    def failed_keys(self, hashes: str | tuple[str, ...]) -> set[tuple]:
        return self._keys(hashes, False)

    def add(self, row: dict[str, Any]) -> bool:
        """Store a finished cell; a failed row of the same key moves to ``failures`` first. False: already ok."""
        values = dict(row, finished=time.time())
        values["metrics"] = json.dumps(row.get("metrics")) if row.get("metrics") is not None else None
        with self.con:  # one transaction: the failure is never lost nor kept twice
            return self._insert(values)

    def _insert(self, row: dict[str, Any]) -> bool:
        """Insert one row (metrics already JSON) inside the caller's transaction, retiring a failed row of its key."""
        cols = [*KEY, "suite", "status", "metrics", "error", "seconds", "epochs", "n_train", "n_train_resampled",
                *RESULT_COLUMNS]  # fmt: skip
        key = [row.get(k) for k in KEY]
        failed = f"{_WHERE_KEY} AND status NOT IN ({_FINISHED_SQL})"
        self.con.execute(f"INSERT INTO failures SELECT * FROM results WHERE {failed}", key)
        self.con.execute(f"DELETE FROM results WHERE {failed}", key)
        cur = self.con.execute(
            f"INSERT OR IGNORE INTO results ({', '.join(cols)}, finished) VALUES ({', '.join('?' * len(cols))}, ?)",
            [*(row.get(c) for c in cols), row.get("finished")],
        )
        return cur.rowcount == 1

    def reuse(self, source: Store, keys: set[tuple], suite: str, carried: dict[str, str] | None = None) -> int:
        """Copy ``source``'s ``ok`` cells whose key is in ``keys`` into this store as cells of ``suite``.

        A key holds the configuration hash, so only comparable results are
        copied; each keeps its metrics, seconds and finishing time (it was
        computed once, by ``source``'s run). ``carried`` maps earlier hashes to
        current ones (:meth:`Suite.carried_hashes`): of those, only converged
        cells (and inapplicable ones, which never trained) are copied, under
        the current hash. ``source`` may be this store. Returns the number of cells copied.
        """
        carried = dict(carried or {})
        hashes = sorted({k[0] for k in keys} | set(carried))
        cur = source.con.execute(
            f"SELECT * FROM results WHERE status IN ({_FINISHED_SQL}) "
            f"AND config_hash IN ({', '.join('?' * len(hashes))})",
            hashes,
        )
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, values, strict=True)) for values in cur.fetchall()]
        copied = 0
        with self.con:
            for row in rows:
                if row["config_hash"] in carried:
                    if not (row.get("converged") == 1 or row["status"] == "inapplicable"):
                        continue
                    row["config_hash"] = carried[row["config_hash"]]
                if tuple(row[k] for k in KEY) in keys:
                    copied += self._insert(dict(row, suite=suite))
        return copied

    def frame(self, config_hash: str | tuple[str, ...] | None = None, suite: str | None = None, *,
              table: str = "results"):  # fmt: skip
        """All rows of ``results`` (or ``failures``) as a DataFrame, metrics expanded to columns."""
        import pandas as pd

        if table not in ("results", "failures"):
            raise ValueError(f"table must be 'results' or 'failures'; received {table!r}")
        if not self._has_table(table):
            return pd.DataFrame()
        query, args = f"SELECT * FROM {table} WHERE 1=1", []
        if config_hash:
            hashes = (config_hash,) if isinstance(config_hash, str) else tuple(config_hash)
            query, args = query + f" AND config_hash IN ({', '.join('?' * len(hashes))})", [*args, *hashes]
        if suite:
            query, args = query + " AND suite = ?", [*args, suite]
        df = pd.read_sql_query(query + " ORDER BY " + ", ".join(KEY[1:]), self.con, params=args)
        if df.empty:
            return df
        metrics = pd.DataFrame([json.loads(m) if isinstance(m, str) else {} for m in df.pop("metrics")], index=df.index)
        return pd.concat([df, metrics], axis=1)

    def begin_run(self, **run: Any) -> int:
        """Record a run as it starts (``ended`` empty until :meth:`end_run`); returns its row id."""
        cols = ["config_hash", "suite", "started", "jobs", "scheduler", "cells_total", "host", "versions", "pid"]
        cur = self.con.execute(
            f"INSERT INTO runs ({', '.join(cols)}, cells_run) VALUES ({', '.join('?' * len(cols))}, 0)",
            [json.dumps(run[c]) if c == "versions" else run.get(c) for c in cols],
        )
        self.con.commit()
        return int(cur.lastrowid)

    def end_run(self, run_id: int, *, ended: float, cells_run: int, cells_failed: int) -> None:
        self.con.execute(
            "UPDATE runs SET ended = ?, cells_run = ?, cells_failed = ? WHERE rowid = ?",
            (ended, cells_run, cells_failed, run_id),
        )
        self.con.commit()

    def runs(self, config_hash: str, suite: str | None = None):
        """The recorded runs of ``config_hash`` (of ``suite`` only, when given), oldest first."""
        import pandas as pd

        query, params = "SELECT * FROM runs WHERE config_hash = ?", [config_hash]
        if suite:
            query, params = query + " AND suite = ?", [*params, suite]
        return pd.read_sql_query(query + " ORDER BY started", self.con, params=params)

    def close(self) -> None:
        self.con.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
