"""Executing cells: in-process, on local worker processes, or on a Dask cluster; rows come back as they finish."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

from ..methods._cell import run_cell
from ._cells import Cell

SCHEDULER_TIMEOUT_S = 30.0


def _exit_with_parent(sentinel: int) -> None:
    from multiprocessing.connection import wait

    wait([sentinel])  # readable once the parent process is gone (killed, crashed, exited)
    os._exit(1)


def _init_worker() -> None:
    import multiprocessing
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    parent = multiprocessing.parent_process()
    if parent is not None:  # a worker never outlives the run that started it (kill -9, SIGTERM)
        threading.Thread(target=_exit_with_parent, args=(parent.sentinel,), daemon=True).start()


def execute(todo: list[Cell], *, jobs: int = 1, scheduler: str | None = None) -> Iterator[dict[str, Any]]:
    """Yield each cell's row as soon as it finishes (order of completion).

    A scheduler is connected to before this returns, so an unreachable one is an
    error before any cell runs.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be a positive number of worker processes; received {jobs!r}")
    if scheduler:
        return _dask(_connect(scheduler), todo)
    if jobs == 1:
        return (run_cell(c) for c in todo)
    return _local(todo, jobs)


def _stop(pool, futures) -> None:
    """Cancel what has not started and end the workers now (the cells in flight are lost, not stored)."""
    for f in futures:
        f.cancel()
    workers = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for w in workers:
        w.terminate()
    for w in workers:
        w.join(5)
        if w.is_alive():
            w.kill()


def _local(todo: list[Cell], jobs: int) -> Iterator[dict[str, Any]]:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # the workers (and the resource tracker) start with SIGINT ignored: a Ctrl-C while they import
    # reaches only the parent, which stops them; no traceback from a half-started worker
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        pool = ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"), initializer=_init_worker)
        futures = [pool.submit(run_cell, c) for c in todo]
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        for f in as_completed(futures):
            yield f.result()
    except BaseException:
        _stop(pool, futures)
        raise
    pool.shutdown(wait=True)


def _connect(address: str):
    try:
        from distributed import Client
    except ImportError as exc:
        raise ValueError("--scheduler needs dask.distributed (pip install 'dask[distributed]')") from exc
    try:
        return Client(address, timeout=f"{SCHEDULER_TIMEOUT_S}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ValueError(
            f"--scheduler: cannot reach the Dask scheduler at {address!r} within {SCHEDULER_TIMEOUT_S:g} s "
            f"({type(exc).__name__}: {exc}); is it running, and is the address tcp://HOST:PORT?"
        ) from None


def _dask(client, todo: list[Cell]) -> Iterator[dict[str, Any]]:
    from distributed import as_completed

    with client:
        futures = client.map(run_cell, todo, pure=False)
        try:
            for f in as_completed(futures):
                yield f.result()
        except BaseException:
            client.cancel(futures)
            raise
