"""``wce compare``: validate, skip what is done, run the rest, store each result as it finishes."""

from __future__ import annotations

import os
import platform
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ._cells import cells
from ._execute import execute
from ._store import Store, StoreError
from ._suite import Suite, check_data, check_frameworks, load_suite


@dataclass
class RunSummary:
    suite: Suite
    db: Path
    total: int
    already_done: int
    ran: int
    errors: int
    seconds: float
    retried: int = 0  # cells that had failed before and ran again
    failed: int = 0  # cells of the suite whose stored result is a failure after this run
    reused: int = 0  # cells copied from other stores (``reuse``) instead of run; counted in ``already_done``

    def line(self) -> str:
        """One line for the end of a run: counts, the store, and the failures (which make the run fail)."""
        retried = f", {self.retried} of them retried after failing before" if self.retried else ""
        reused = f" ({self.reused} of them reused from other stores)" if self.reused else ""
        text = (
            f"suite {self.suite.name}: {self.total} cells, {self.already_done} already in {self.db}{reused}, "
            f"ran {self.ran}"
            f"{retried} ({self.errors} failed) in {self.seconds:.1f} s"
        )
        if self.failed:
            text += (
                f"; {self.failed} cell(s) FAILED (errors in the report's 'Failed cells'); "
                "fix the cause and run the same command again to retry them"
            )
        return text


class Terminated(KeyboardInterrupt):
    """SIGTERM during a run: stopped like Ctrl-C (workers ended, the run recorded)."""

    exit_code = 128 + signal.SIGTERM


class _Storing:
    """While a finished cell is stored and counted, SIGTERM and SIGINT wait: the run's count of the cells it
    stored always equals the rows it added (a signal between the insert and the count once broke that)."""

    busy = False
    pending: int | None = None


def _on_signal(signum: int, frame: object) -> None:
    if _Storing.busy:
        _Storing.pending = signum
        return
    _raise(signum)


def _raise(signum: int) -> None:
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated(f"terminated by signal {signum}")


def _store_row(store: Store, row: dict, summary: RunSummary) -> None:
    _Storing.busy, _Storing.pending = True, None
    try:
        if store.add(row):
            summary.ran += 1
            summary.errors += row["status"] != "ok"
    finally:
        _Storing.busy = False
    if _Storing.pending is not None:
        _raise(_Storing.pending)


def _versions(suite: Suite) -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("numpy", "scikit-learn", "imbalanced-learn", *[f for f in suite.frameworks if f != "numpy"]):
        try:
            out[pkg] = md.version({"tensorflow": "tensorflow-cpu"}.get(pkg, pkg))
        except md.PackageNotFoundError:
            try:
                out[pkg] = md.version(pkg)
            except md.PackageNotFoundError:
                pass
    return out


def run(
    suite: Suite | str,
    *,
    db: str | Path = "reports/compare.sqlite",
    jobs: int = 1,
    scheduler: str | None = None,
    show_progress: bool = True,
    limit: int | None = None,
    reuse: list[str | Path] | tuple[str | Path, ...] = (),
) -> RunSummary:
    """Run (or resume) a suite: cells not yet done, and cells that failed before, run.

    Everything is validated before the first cell starts. SIGTERM stops the run
    like Ctrl-C (:class:`KeyboardInterrupt`): the workers end, the finished cells
    and the run are recorded. ``reuse``: other results stores whose ``ok`` cells
    with this suite's keys (the same configuration hash, dataset, strategy,
    model, framework, fold and seed: the same computation) are copied in
    instead of run, e.g. the ``default`` suite's cells into ``benchmark``.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive number of worker processes; received {jobs!r}")
    suite = load_suite(suite) if isinstance(suite, str) else suite
    sources = _open_reuse(reuse, db)
    check_frameworks(suite)
    suite = check_data(suite, download=None)
    for name, reason in suite.skipped:
        print(f"wce compare: skipping dataset {name!r}: {reason}", file=sys.stderr)
    store = Store(db)
    all_cells = cells(suite)
    reused = _reuse(store, sources, suite, all_cells)
    done = store.done_keys(suite.config_hashes())
    failed_before = store.failed_keys(suite.config_hashes())
    todo = _smallest_first([c for c in all_cells if c.key() not in done])
    already = len(all_cells) - len(todo)
    if limit is not None:
        todo = todo[:limit]
    try:
        rows = execute(todo, jobs=jobs, scheduler=scheduler)
    except BaseException:
        store.close()
        raise
    summary = RunSummary(suite, Path(db), len(all_cells), already, 0, 0, 0.0, reused=reused)
    summary.retried = sum(c.key() in failed_before for c in todo)
    _consume(rows, store, summary, jobs=jobs, scheduler=scheduler, show_progress=show_progress)
    return summary


def _open_reuse(paths, db: str | Path) -> list[Store]:
    """The stores to reuse cells from, opened read-only before any work; errors name ``reuse``."""
    if isinstance(paths, str | Path):
        paths = [paths]
    sources = []
    for path in paths:
        if Path(path).resolve() == Path(db).resolve():
            raise StoreError(f"reuse: {path} is the suite's own store (--db); name another suite's store")
        try:
            sources.append(Store(path, readonly=True))
        except StoreError as exc:
            raise StoreError(f"reuse: {str(exc).removeprefix('db: ')}") from None
    return sources


def _reuse(store: Store, sources: list[Store], suite: Suite, all_cells: list) -> int:
    """Copy the sources' ok cells that this suite needs and lacks; each source's copy is recorded as a run.

    Converged cells of an earlier configuration that cannot differ (:meth:`Suite.carried_hashes`) are
    carried over too, from the sources and from the store itself.
    """
    copied, needed, carried = 0, {c.key() for c in all_cells}, suite.carried_hashes()
    for source in [*sources, store] if carried else sources:
        wanted = needed - store.done_keys(suite.config_hashes())  # what an earlier source copied is done
        n = store.reuse(source, wanted, suite.name, carried) if wanted else 0
        if source is not store:
            source.close()
        if n:
            now = time.time()
            run_id = store.begin_run(
                config_hash=suite.config_hash(), suite=suite.name, started=now, jobs=0,
                scheduler=f"reuse {source.path}", cells_total=len(all_cells), host=socket.gethostname(),
                versions=_versions(suite), pid=os.getpid(),
            )  # fmt: skip
            store.end_run(run_id, ended=now, cells_run=n, cells_failed=0)
            also = (f"; converged cells of earlier configuration {', '.join(carried)} carried over: a larger "
                    "iteration cap cannot change them" if carried else "")  # fmt: skip
            print(f"wce compare: reused {n} cell(s) of {source.path} (same configuration {suite.config_hash()}"
                  f"{also})", file=sys.stderr)  # fmt: skip
        copied += n
    return copied


def _smallest_first(todo: list) -> list:
    """The cells ordered by their dataset's size (stable): an interrupted run has whole datasets done."""
    from ... import datasets as _datasets

    rows = {d: getattr(_datasets.info(d), "n_rows", 0) or 0 for d in {c.dataset for c in todo}}
    return sorted(todo, key=lambda c: rows[c.dataset])


def _progress_bar(summary: RunSummary, show: bool):
    if not show:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(
        total=summary.total,
        initial=summary.already_done,
        desc=f"compare {summary.suite.name}",
        unit="cell",
        file=sys.stderr,
        dynamic_ncols=True,
    )


def _consume(rows, store: Store, summary: RunSummary, *, jobs: int, scheduler: str | None, show_progress: bool):
    """Store each row as it comes; record the run when it starts and when it ends, interrupted or not."""
    suite, started = summary.suite, time.time()
    run_id = store.begin_run(
        config_hash=suite.config_hash(),
        suite=suite.name,
        started=started,
        jobs=jobs,
        scheduler=scheduler,
        cells_total=summary.total,
        host=socket.gethostname(),
        versions=_versions(suite),
        pid=os.getpid(),
    )
    main_thread = threading.current_thread() is threading.main_thread()
    handled = [signal.SIGTERM] if main_thread else []
    if main_thread and signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when ignored
        handled.append(signal.SIGINT)
    previous = {s: signal.signal(s, _on_signal) for s in handled}
    bar = _progress_bar(summary, show_progress)
    try:
        for row in rows:
            _store_row(store, row, summary)
            if bar is not None:
                bar.update(1)
            elif show_progress:
                print(
                    f"\r{suite.name}: {summary.already_done + summary.ran}/{summary.total} cells",
                    end="",
                    file=sys.stderr,
                )
    except KeyboardInterrupt as exc:
        print(
            f"\nwce compare: {str(exc) or 'interrupted'}: {summary.ran} cell(s) of this run are stored in "
            f"{summary.db}; run the same command again to resume",
            file=sys.stderr,
        )
        exc.notice_printed = True  # the command line prints no second notice
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if bar is not None:
            bar.close()
        summary.failed = len(store.failed_keys(suite.config_hashes()))
        summary.seconds = time.time() - started
        store.end_run(run_id, ended=time.time(), cells_run=summary.ran, cells_failed=summary.errors)
        store.close()
