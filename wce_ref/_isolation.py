"""The agreement matrix of a framework that cannot run in this process, run in a fresh one.

Keras fixes its backend at its first import, so ``wce check --frameworks
keras-tensorflow,keras-jax,keras-torch`` can measure one Keras backend in its own
process at most. A framework says so through
:meth:`~wce_ref.frameworks.Backend.isolation` (the environment variables a
process that can run it needs); :func:`run_matrix` starts ``python`` with them,
which runs the framework's cells (:mod:`wce_ref.agreement`) and
writes them as JSON, and returns them as :class:`~wce_ref.agreement.CellResult`
objects, as if they had run here. A framework registered at run time travels
as its registry entry when that is a ``"module:Class"`` path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path
from typing import Any

from . import agreement, frameworks
from ._progress import progress
from .agreement import CaseResult, Cell, CellResult

__all__ = ["cell_result", "run_matrix"]


def cell_result(d: dict[str, Any]) -> CellResult:
    """A :class:`~wce_ref.agreement.CellResult` from its :meth:`~wce_ref.agreement.CellResult.as_dict`."""
    cell = Cell(**{f.name: d[f.name] for f in fields(Cell)})
    return CellResult(cell, d["tolerance_ulp"], [CaseResult(**c) for c in d["cases"]])


def run_matrix(
    name: str,
    *,
    dtypes: Iterable[str] | None = None,
    devices: Iterable[str] | None = None,
    losses: Iterable[str] | None = None,
    show_progress: bool = True,
) -> tuple[list[CellResult], dict[str, Any]]:
    """The cells of framework ``name`` and its runtime information, computed in a process of its own.

    Parameters
    ----------
    name : str
        A registered framework whose :meth:`~wce_ref.frameworks.Backend.isolation` is not None.
    dtypes, devices, losses : iterable of str, optional
        As for :func:`wce_ref.check.run_matrix`.
    show_progress : bool
        Let the process's progress bar (and its framework's messages) through to stderr.

    Returns
    -------
    results : list of CellResult
    info : dict
        ``{"frameworks": {name: {"version": ..., "devices": ...}}}``.

    Raises
    ------
    FrameworkUnavailable
        The process failed (the framework does not import there, or its matrix raised); the message ends
        with the process's last output.
    """
    backend = frameworks.get(name)
    env = backend.isolation()
    if env is None:
        raise ValueError(f"framework {name!r} runs in this process (its isolation() is None)")
    entry = frameworks.REGISTRY[name]
    request = {"framework": name, "entry": entry if isinstance(entry, str) else None,
               "dtypes": _listed(dtypes), "devices": _listed(devices), "losses": _listed(losses)}
    with tempfile.TemporaryDirectory(prefix="wce-isolated-") as tmp:
        out = Path(tmp) / "cells.json"
        request["out"] = str(out)
        proc = subprocess.run(
            [sys.executable, "-c", "from wce_ref._isolation import main; main()"],
            input=json.dumps(request), text=True, env={**os.environ, **env},
            stdout=subprocess.PIPE, stderr=None if show_progress else subprocess.PIPE, check=False,
        )
        if proc.returncode != 0 or not out.exists():
            where = " ".join(f"{k}={v}" for k, v in env.items())
            tail = ((proc.stdout or "") + (proc.stderr or ""))[-3000:]
            raise frameworks.FrameworkUnavailable(
                f"framework {name!r} in a process of its own ({where}) failed (exit {proc.returncode}):\n{tail}"
            )
        data = json.loads(out.read_text())
    return [cell_result(d) for d in data["cells"]], data["info"]


def _listed(values: Iterable[str] | None) -> list[str] | None:
    return None if values is None else list(values)


def main() -> None:
    """The isolated process: read the request from stdin, run the matrix, write the cells to its ``out``."""
    request = json.loads(sys.stdin.read())
    name = request["framework"]
    if name not in frameworks.REGISTRY and request["entry"]:
        frameworks.register(name, request["entry"])
    env = frameworks.get(name).isolation()
    if env is not None:  # the environment did not make it runnable: never start another process
        raise SystemExit(f"framework {name!r} cannot run in this process either (it asks for {env})")
    frameworks.get(name).load()
    cells = agreement.enumerate_cells([name], dtypes=request["dtypes"], devices=request["devices"],
                                      losses=request["losses"])
    results = [agreement.run_cell(c) for c in progress(cells, total=len(cells), desc=f"agreement {name}",
                                                       enabled=sys.stderr.isatty())]
    payload = {"cells": [r.as_dict() for r in results], "info": agreement.runtime_info([name])}
    Path(request["out"]).write_text(json.dumps(payload, default=float))
