"""``wce compare``: validate, skip what is done, run the rest, store each result as it finishes."""

from __future__ import annotations

import platform
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ._runner import cells, execute
from ._store import Store
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
) -> RunSummary:
    """Run (or resume) a suite. Everything is validated before the first cell starts."""
    suite = load_suite(suite) if isinstance(suite, str) else suite
    check_frameworks(suite)
    suite = check_data(suite, download=None)
    for name, reason in suite.skipped:
        print(f"wce compare: skipping dataset {name!r}: {reason}", file=sys.stderr)
    store = Store(db)
    all_cells = cells(suite)
    done = store.done_keys(suite.config_hash())
    todo = [c for c in all_cells if c.key() not in done]
    already = len(all_cells) - len(todo)
    if limit is not None:
        todo = todo[:limit]
    started = time.time()
    ran = errors = 0
    bar = None
    if show_progress:
        try:
            from tqdm import tqdm

            bar = tqdm(
                total=len(all_cells),
                initial=already,
                desc=f"compare {suite.name}",
                unit="cell",
                file=sys.stderr,
                dynamic_ncols=True,
            )
        except ImportError:
            bar = None
    try:
        for row in execute(todo, jobs=jobs, scheduler=scheduler):
            if store.add(row):
                ran += 1
                errors += row["status"] != "ok"
            if bar is not None:
                bar.update(1)
            elif show_progress:
                print(f"\r{suite.name}: {already + ran}/{len(all_cells)} cells", end="", file=sys.stderr)
    finally:
        if bar is not None:
            bar.close()
        store.add_run(
            config_hash=suite.config_hash(),
            suite=suite.name,
            started=started,
            ended=time.time(),
            jobs=jobs,
            scheduler=scheduler,
            cells_total=len(all_cells),
            cells_run=ran,
            host=socket.gethostname(),
            versions=_versions(suite),
        )
        store.close()
    return RunSummary(suite, Path(db), len(all_cells), already, ran, errors, time.time() - started)
