"""The results store: an embedded SQLite database, one row per finished cell, written as it finishes.

A cell's key covers (suite config hash, dataset, strategy, model, framework,
repeat, fold, seed); ``INSERT OR IGNORE`` on that primary key means a resumed or
repeated run never counts a cell twice, and each row is committed on its own,
so a killed run loses at most the cells in flight.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    config_hash TEXT NOT NULL, suite TEXT NOT NULL, dataset TEXT NOT NULL, strategy TEXT NOT NULL,
    model TEXT NOT NULL, framework TEXT NOT NULL, repeat INTEGER NOT NULL, fold INTEGER NOT NULL,
    seed INTEGER NOT NULL, status TEXT NOT NULL, metrics TEXT, error TEXT, seconds REAL, epochs INTEGER,
    n_train INTEGER, n_train_resampled INTEGER, finished REAL,
    PRIMARY KEY (config_hash, dataset, strategy, model, framework, repeat, fold, seed)
)
"""
RUNS = """
CREATE TABLE IF NOT EXISTS runs (
    config_hash TEXT, suite TEXT, started REAL, ended REAL, jobs INTEGER, scheduler TEXT, cells_total INTEGER,
    cells_run INTEGER, host TEXT, versions TEXT
)
"""
KEY = ("config_hash", "dataset", "strategy", "model", "framework", "repeat", "fold", "seed")


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = sqlite3.connect(self.path, timeout=60)
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("PRAGMA synchronous=FULL")
        self.con.execute(SCHEMA)
        self.con.execute(RUNS)
        self.con.commit()

    def done_keys(self, config_hash: str) -> set[tuple]:
        rows = self.con.execute(f"SELECT {', '.join(KEY)} FROM results WHERE config_hash = ?", (config_hash,))
        return {tuple(r) for r in rows}

    def add(self, row: dict[str, Any]) -> bool:
        cols = [*KEY, "suite", "status", "metrics", "error", "seconds", "epochs", "n_train", "n_train_resampled"]
        values = [row.get(c) for c in cols]
        values[cols.index("metrics")] = json.dumps(row.get("metrics")) if row.get("metrics") is not None else None
        cur = self.con.execute(
            f"INSERT OR IGNORE INTO results ({', '.join(cols)}, finished) VALUES ({', '.join('?' * len(cols))}, ?)",
            [*values, time.time()],
        )
        self.con.commit()
        return cur.rowcount == 1

    def frame(self, config_hash: str | None = None, suite: str | None = None):
        """All rows as a DataFrame, metrics expanded to columns."""
        import pandas as pd

        query, args = "SELECT * FROM results WHERE 1=1", []
        if config_hash:
            query, args = query + " AND config_hash = ?", [*args, config_hash]
        if suite:
            query, args = query + " AND suite = ?", [*args, suite]
        df = pd.read_sql_query(query + " ORDER BY " + ", ".join(KEY[1:]), self.con, params=args)
        if df.empty:
            return df
        metrics = pd.DataFrame([json.loads(m) if m else {} for m in df.pop("metrics")], index=df.index)
        return pd.concat([df, metrics], axis=1)

    def add_run(self, **run: Any) -> None:
        cols = [
            "config_hash",
            "suite",
            "started",
            "ended",
            "jobs",
            "scheduler",
            "cells_total",
            "cells_run",
            "host",
            "versions",
        ]
        self.con.execute(
            f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [json.dumps(run[c]) if c == "versions" else run.get(c) for c in cols],
        )
        self.con.commit()

    def runs(self, config_hash: str):
        import pandas as pd

        return pd.read_sql_query(
            "SELECT * FROM runs WHERE config_hash = ? ORDER BY started", self.con, params=[config_hash]
        )

    def close(self) -> None:
        self.con.close()
