"""``wce check``: run the agreement matrix and write ``reports/agreement.md`` and ``.json``."""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from . import _isolation, agreement, frameworks
from ._progress import progress
from ._report import markdown_table

DTYPES = ("float64", "float32", "float16", "bfloat16")


def check_dtypes(dtypes: Iterable[str]) -> list[str]:
    """``--dtypes``: every name one of :data:`DTYPES` (an error before any work, naming the unknown ones)."""
    dtypes = list(dtypes)
    unknown = [d for d in dtypes if d not in DTYPES]
    if unknown or not dtypes:
        raise ValueError(f"--dtypes: unknown dtype(s) {unknown or dtypes}; known: {', '.join(DTYPES)}")
    return dtypes


def check_devices(names: Iterable[str], devices: Iterable[str]) -> list[str]:
    """``--devices``: every name a device of at least one of the frameworks ``names`` (imported to ask)."""
    devices = list(devices)
    present: list[str] = []
    for name in names:
        present += [d for d in frameworks.get(name).devices() if d not in present]
    unknown = [d for d in devices if d not in present]
    if unknown or not devices:
        raise ValueError(
            f"--devices: unknown or absent device(s) {unknown or devices}; present here: {', '.join(present) or 'none'}"
        )
    return devices


def run_matrix(
    names: Iterable[str],
    *,
    dtypes: Iterable[str] | None = None,
    devices: Iterable[str] | None = None,
    losses: Iterable[str] | None = None,
    show_progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    journal: Path | None = None,
) -> tuple[list[agreement.CellResult], dict[str, Any]]:
    """Run the agreement matrix of the frameworks ``names``.

    Parameters
    ----------
    names : iterable of str
        Frameworks.
    dtypes, devices, losses : iterable of str, optional
        Restrict the cells (default: every dtype, device and loss present).
    show_progress : bool
        A progress bar on stderr (not with ``on_progress``).
    on_progress : callable, optional
        Called with (cells finished, cells) before the first cell and after each one, instead of the bar.
    journal : Path, optional
        A file each finished cell's result is appended to; cells already in it (written by an interrupted run of
        the same package and framework versions) are read back instead of run again.

    Returns
    -------
    results : list of CellResult
        One per cell, in the matrix's order.
    info : dict
        Versions and devices (:func:`wce_ref.agreement.runtime_info`).

    A framework that cannot run in this process (Keras on another backend) runs in one of its own
    (:mod:`wce_ref._isolation`), after the others, without the journal.
    """
    names = [frameworks.resolve(n) for n in names]
    here = [n for n in names if frameworks.get(n).isolation() is None]
    cells = agreement.enumerate_cells(here, dtypes=dtypes, devices=devices, losses=losses)
    info = agreement.runtime_info(here)
    kept = _read_journal(journal, info) if journal is not None else {}
    results: list[agreement.CellResult] = []
    todo = [c for c in cells if c.id not in kept]
    if on_progress is not None:
        on_progress(len(cells) - len(todo), len(cells))
    with contextlib.ExitStack() as stack:
        log = stack.enter_context(_journal_writer(journal, info, kept)) if journal is not None else None
        bar = progress(todo, total=len(todo), desc="agreement", enabled=show_progress and on_progress is None)
        for n, cell in enumerate(bar, len(cells) - len(todo) + 1):
            result = agreement.run_cell(cell)
            kept[cell.id] = result
            if log is not None:
                log.write(json.dumps(result.as_dict()) + "\n")
                log.flush()
            if on_progress is not None:
                on_progress(n, len(cells))
    results = [kept[c.id] for c in cells]
    for name in (n for n in names if n not in here):
        more, more_info = _isolation.run_matrix(name, dtypes=dtypes, devices=devices, losses=losses,
                                                show_progress=show_progress and on_progress is None)  # fmt: skip
        results += more
        info["frameworks"].update(more_info["frameworks"])
    return results, info


def _journal_key(info: dict[str, Any]) -> dict[str, Any]:
    from . import __version__

    return {"wce_ref": __version__, "frameworks": {k: v["version"] for k, v in info["frameworks"].items()}}


def _read_journal(path: Path, info: dict[str, Any]) -> dict[str, agreement.CellResult]:
    """The cells an interrupted run recorded in ``path`` under the same versions (none when they differ)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    kept: dict[str, agreement.CellResult] = {}
    try:
        if not lines or json.loads(lines[0]) != _journal_key(info):
            return {}
        for line in lines[1:]:
            d = json.loads(line)  # a line cut short by the interrupt ends the journal
            cell = agreement.Cell(**{f: d[f] for f in ("impl", "framework", "device", "dtype", "loss", "reduction")})
            kept[cell.id] = agreement.CellResult(cell, d["tolerance_ulp"],
                                                 [agreement.CaseResult(**c) for c in d["cases"]])  # fmt: skip
    except (ValueError, KeyError, TypeError):
        pass
    return kept


@contextlib.contextmanager
def _journal_writer(path: Path, info: dict[str, Any], kept: dict[str, Any]) -> Iterator[TextIO]:
    """``path`` written anew (its versions line and the ``kept`` results: a line the interrupt cut short is
    dropped), then open for appending results."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(_journal_key(info)), *(json.dumps(r.as_dict()) for r in kept.values())]
    path.write_text("\n".join(lines) + "\n")
    with open(path, "a") as f:
        yield f


def _cell_text(results: list[agreement.CellResult]) -> str:
    worst = max(r.worst()[0] for r in results)
    status = {r.status for r in results}
    mark = "FAIL" if "fail" in status else ("known" if "known" in status else "ok")
    return f"{agreement._fmt(worst)} {mark}"


def summary_table(results: list[agreement.CellResult]) -> tuple[list[str], list[list[str]]]:
    """Rows implementation x loss (x device), columns dtypes; a cell is 'worst ULP status'."""
    grid: dict[tuple[str, str, str], dict[str, list[agreement.CellResult]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        grid[(r.cell.impl, r.cell.device, r.cell.loss)][r.cell.dtype].append(r)
    dtypes = [d for d in DTYPES if any(d in row for row in grid.values())]
    header = ["implementation", "device", "loss", *dtypes]
    rows = []
    for (impl, device, loss), by_dtype in grid.items():
        rows.append([impl, device, loss] + [_cell_text(by_dtype[d]) if d in by_dtype else "—" for d in dtypes])
    return header, rows


def _notes(results: list[agreement.CellResult]) -> list[str]:
    """Sentences about implementations that are neither a framework's version nor a built-in (where present)."""
    if not any(r.cell.impl == "torch-triton" for r in results):
        return []
    return ["`torch-triton` is this project's fused Triton kernel of softmax_wce (class-index labels); its `cpu` "
            "rows run the kernel through Triton's interpreter (TRITON_INTERPRET=1), its `cuda` rows compiled.", ""]


def render_markdown(results: list[agreement.CellResult], info: dict[str, Any]) -> str:
    header, rows = summary_table(results)
    n = len(results)
    counts = {s: sum(r.status == s for r in results) for s in ("pass", "known", "fail")}
    fw = ", ".join(f"{k} {v['version']} ({', '.join(v['devices'].values())})" for k, v in info["frameworks"].items())
    tol = ", ".join(f"{k} {v:g}" for k, v in agreement.TOLERANCE_ULP.items())
    out = [
        "# Agreement with the high-precision oracle",
        "",
        f"Generated by `wce check` on {info['date']} "
        f"(Python {info['python']}, {info['machine']}, NumPy {info['numpy']}).",
        f"Frameworks: {fw}.",
        "",
        f"**{n} cells: {counts['pass']} pass, {counts['known']} pass with a known deviation, {counts['fail']} fail.**",
        "",
        "Each cell is the worst error over every case and reduction of that implementation, loss and dtype, values and",
        "gradients (autodiff), as norm-wise ULPs of the dtype against an mpmath oracle at 50 digits "
        "(see `wce_ref/oracle.py`).",
        f"Tolerance per dtype (ULPs): {tol}. `ok` = within it; `known` = beyond it, matching an entry of",
        "`wce_ref/known_deviations.toml` (listed below with its measured size); `FAIL` = beyond it and unexplained.",
        "Implementations named after a framework (`torch`, `tensorflow`, `jax`, `keras-<backend>`, `numpy` = the",
        "reference) are this",
        "project's losses; dotted names are the frameworks' own built-ins, called as their documentation says.",
        "",
        *_notes(results),
        markdown_table(header, rows),
        "",
        "## Known deviations, measured",
        "",
    ]
    dev_rows = []
    seen: dict[tuple[str, str], list] = defaultdict(list)
    for r in results:
        for c in r.cases:
            if c.status == "known":
                seen[(r.cell.impl, c.reason)].append((r, c))
    for (impl, reason), items in seen.items():
        worst = max(items, key=lambda rc: max(rc[1].value["max_ulp"], (rc[1].grad or {"max_ulp": 0})["max_ulp"]))
        r, c = worst
        stats = c.value if c.grad is None or c.value["max_ulp"] >= c.grad["max_ulp"] else c.grad
        where = f"{r.cell.dtype} {r.cell.loss} {r.cell.reduction} / {c.case}"
        dev_rows.append(
            [
                impl,
                reason,
                str(len(items)),
                where,
                agreement._fmt(stats["max_ulp"]),
                f"{stats['max_abs']:.3g}",
                f"{stats['max_rel']:.3g}",
            ]
        )
    out.append(
        markdown_table(["implementation", "reason", "cases", "worst at", "max ULP", "max abs", "max rel"], dev_rows)
    )
    out += ["", "## How each built-in is called, and which reference call reproduces its defaults", ""]
    notes = []
    for name in info["frameworks"]:
        for b in frameworks.get(name).builtins():
            notes.append([b.name, b.loss, "yes" if b.grad else "value only", b.note or "-", b.defaults or "-"])
    out.append(markdown_table(["built-in", "reference loss", "gradient", "call", "its defaults = reference call"],
                              notes))
    missing = [(n, why) for name in info["frameworks"] for n, why in frameworks.get(name).unavailable_builtins()]
    if missing:
        out += ["", "Built-ins not measured on this machine:", ""]
        out += [f"- `{n}`: {why}" for n, why in missing]
    failures = [(r, c) for r in results for c in r.failures()]
    out += ["", "## Failures", ""]
    if failures:
        out.append(markdown_table(["cell", "case", "reason"], [[r.cell.id, c.case, c.reason] for r, c in failures]))
    else:
        out.append("None.")
    out.append("")
    return "\n".join(out)


def write_reports(
    results: list[agreement.CellResult], info: dict[str, Any], outdir: Path, name: str = "agreement"
) -> tuple[Path, Path]:
    """Write ``NAME.md`` and ``NAME.json`` (default ``agreement``); an empty matrix is an error and never replaces a
    report."""
    if not results:
        raise ValueError(
            f"check: no cell matches the requested frameworks, dtypes and devices; {outdir} is left unchanged"
        )
    outdir.mkdir(parents=True, exist_ok=True)
    md, js = outdir / f"{name}.md", outdir / f"{name}.json"
    md.write_text(render_markdown(results, info))
    payload = {"info": info, "tolerance_ulp": agreement.TOLERANCE_ULP, "cells": [r.as_dict() for r in results]}
    js.write_text(json.dumps(payload, indent=1, default=float))
    return md, js
