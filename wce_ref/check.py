"""``wce check``: run the agreement matrix and write ``agreement.json`` and its report, ``agreement.md`` / ``.html``.

``wce report check NAME.json`` renders the report again from the data.
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from . import _isolation, agreement, frameworks
from ._progress import progress
from ._report import Document

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
            result = _cell_result(json.loads(line))  # a line cut short by the interrupt ends the journal
            kept[result.cell.id] = result
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
    return f"{agreement.format_ulp(worst)} {mark}"


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


# ------------------------------------------------------------------ the report's data (NAME.json)


def _builtin_rows(names: Iterable[str], measured: set[str] | None = None) -> list[dict[str, Any]]:
    """How each built-in of the frameworks ``names`` is called, from the registry (``measured``: only these)."""
    rows = []
    for name in names:
        if name not in frameworks.names():  # data of a framework this version no longer registers
            continue
        for b in frameworks.get(name).builtins():
            if measured is None or b.name in measured:
                rows.append({"name": b.name, "loss": b.loss, "grad": bool(b.grad), "call": b.note,
                             "defaults": b.defaults})  # fmt: skip
    return rows


def payload(results: list[agreement.CellResult], info: dict[str, Any]) -> dict[str, Any]:
    """What ``wce check`` writes to ``NAME.json``, and all its report is rendered from: versions, tolerances, the
    cells, how each built-in is called and the built-ins that could not be measured (with why)."""
    names = list(info["frameworks"])
    unavailable = [[n, why] for name in names for n, why in frameworks.get(name).unavailable_builtins()]
    return {"info": info, "tolerance_ulp": agreement.TOLERANCE_ULP, "cells": [r.as_dict() for r in results],
            "builtins": _builtin_rows(names), "unavailable_builtins": unavailable}  # fmt: skip


def _cell_result(d: dict[str, Any]) -> agreement.CellResult:
    """A cell's result from its dict (:meth:`~wce_ref.agreement.CellResult.as_dict`, a journal line or NAME.json)."""
    cell = agreement.Cell(**{f: d[f] for f in ("impl", "framework", "device", "dtype", "loss", "reduction")})
    return agreement.CellResult(cell, d["tolerance_ulp"], [agreement.CaseResult(**c) for c in d["cases"]])


def load(path: Path) -> dict[str, Any]:
    """``NAME.json`` written by ``wce check``, its cells as :class:`~wce_ref.agreement.CellResult` (``results``).

    Data written before ``wce check`` recorded the built-ins gets their descriptions from the registry (those with
    cells in the data only) and ``unavailable_builtins`` None (not recorded): the report says so.
    """
    if not path.is_file():
        raise ValueError(f"agreement JSON: {path} {'is a directory' if path.is_dir() else 'does not exist'}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        results = [_cell_result(c) for c in data["cells"]]
        names = list(data["info"]["frameworks"])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"agreement JSON: {path} is not a `wce check` report's data ({exc!r})") from None
    if "builtins" not in data:
        data["builtins"] = _builtin_rows(names, {r.cell.impl for r in results})
    data.setdefault("unavailable_builtins", None)
    return {**data, "results": results}


# ------------------------------------------------------------------ the report's sections


def _answer_section(doc: Document, results: list[agreement.CellResult], tolerance: dict[str, float]) -> None:
    """The answer: how many cells pass, then the matrix and how to read it."""
    counts = {s: sum(r.status == s for r in results) for s in ("pass", "known", "fail")}
    doc.heading("The answer", anchor="answer")
    doc.para(f"**{len(results)} cells: {counts['pass']} pass, {counts['known']} pass with a known deviation, "
             f"{counts['fail']} fail.**")  # fmt: skip
    tol = ", ".join(f"{k} {v:g}" for k, v in tolerance.items())
    doc.para(
        "Each cell is the worst error over every case and reduction of that implementation, loss and dtype, values "
        "and gradients (autodiff), as norm-wise ULPs of the dtype against an mpmath oracle at 50 digits (see "
        f"`wce_ref/oracle.py`). Tolerance per dtype (ULPs): {tol}. `ok` = within it; `known` = beyond it, matching "
        "an entry of `wce_ref/known_deviations.toml` (listed below with its measured size); `FAIL` = beyond it and "
        "unexplained. Implementations named after a framework (`torch`, `tensorflow`, `jax`, `keras-<backend>`, "
        "`numpy` = the reference) are this project's losses; dotted names are the frameworks' own built-ins, called "
        "as their documentation says."
    )
    if any(r.cell.impl == "torch-triton" for r in results):
        doc.para("`torch-triton` is this project's fused Triton kernel of softmax_wce (class-index labels); its "
                 "`cpu` rows run the kernel through Triton's interpreter (TRITON_INTERPRET=1), its `cuda` rows "
                 "compiled.")  # fmt: skip
    doc.table(*summary_table(results))


def _deviation_rows(results: list[agreement.CellResult]) -> list[list[str]]:
    """Per (implementation, reason) of a known deviation: its cases and its worst case's errors."""
    seen: dict[tuple[str, str], list] = defaultdict(list)
    for r in results:
        for c in r.cases:
            if c.status == "known":
                seen[(r.cell.impl, c.reason)].append((r, c))
    rows = []
    for (impl, reason), items in seen.items():
        r, c = max(items, key=lambda rc: max(rc[1].value["max_ulp"], (rc[1].grad or {"max_ulp": 0})["max_ulp"]))
        stats = c.value if c.grad is None or c.value["max_ulp"] >= c.grad["max_ulp"] else c.grad
        where = f"{r.cell.dtype} {r.cell.loss} {r.cell.reduction} / {c.case}"
        rows.append([impl, reason, str(len(items)), where, agreement.format_ulp(stats["max_ulp"]),
                     f"{stats['max_abs']:.3g}", f"{stats['max_rel']:.3g}"])  # fmt: skip
    return rows


def _deviations_section(doc: Document, results: list[agreement.CellResult]) -> None:
    doc.heading("Known deviations, measured")
    doc.table(["implementation", "reason", "cases", "worst at", "max ULP", "max abs", "max rel"],
              _deviation_rows(results))  # fmt: skip


def _builtins_section(doc: Document, builtins: list[dict[str, Any]], unavailable: list | None) -> None:
    """How each built-in is called, and those that could not be measured."""
    doc.heading("How each built-in is called, and which reference call reproduces its defaults")
    doc.table(["built-in", "reference loss", "gradient", "call", "its defaults = reference call"],
              [[b["name"], b["loss"], "yes" if b["grad"] else "value only", b["call"] or "-", b["defaults"] or "-"]
               for b in builtins])  # fmt: skip
    if unavailable is None:
        doc.para("The built-ins that could not be measured were not recorded with these results (they predate the "
                 "record); `wce check` records them.")  # fmt: skip
    elif unavailable:
        doc.para("Built-ins not measured on this machine:")
        doc.bullets([f"`{n}`: {why}" for n, why in unavailable])


def _failures_section(doc: Document, results: list[agreement.CellResult]) -> None:
    failures = [(r, c) for r in results for c in r.failures()]
    doc.heading("Failures")
    if failures:
        doc.table(["cell", "case", "reason"], [[r.cell.id, c.case, c.reason] for r, c in failures])
    else:
        doc.para("None.")


def _provenance_section(doc: Document, info: dict[str, Any], source: str) -> None:
    """When, where and with which versions the matrix was measured, and the file the report is rendered from."""
    fw = ", ".join(f"{k} {v['version']} ({', '.join(v['devices'].values())})" for k, v in info["frameworks"].items())
    doc.heading("Provenance")
    doc.para(f"Measured by `wce check` on {info['date']} (Python {info['python']}, {info['machine']}, NumPy "
             f"{info['numpy']}). Frameworks: {fw}. Rendered from `{source}` beside this report (`wce report check "
             f"DIR/{source} --out DIR` renders it again).")  # fmt: skip


def report(data: dict[str, Any], source: str) -> Document:
    """The agreement report of ``data`` (:func:`load`, or :func:`payload` with ``results``) rendered from the file
    ``source``: the answer first, the measured deviations and the built-ins next, provenance last."""
    results = data["results"]
    doc = Document("Agreement with the high-precision oracle")
    _answer_section(doc, results, data["tolerance_ulp"])
    _deviations_section(doc, results)
    _builtins_section(doc, data["builtins"], data["unavailable_builtins"])
    _failures_section(doc, results)
    _provenance_section(doc, data["info"], source)
    return doc


def render_markdown(results: list[agreement.CellResult], info: dict[str, Any]) -> str:
    """The Markdown report of a matrix just run (as ``wce check`` writes it to ``agreement.md``)."""
    return report({**payload(results, info), "results": results}, "agreement.json").markdown()


def write_reports(
    results: list[agreement.CellResult], info: dict[str, Any], outdir: Path, name: str = "agreement"
) -> tuple[Path, Path, Path]:
    """Write ``NAME.json`` and the report rendered from it, ``NAME.md`` and ``NAME.html`` (default ``agreement``);
    an empty matrix is an error and never replaces a report."""
    if not results:
        raise ValueError(
            f"check: no cell matches the requested frameworks, dtypes and devices; {outdir} is left unchanged"
        )
    outdir.mkdir(parents=True, exist_ok=True)
    js = outdir / f"{name}.json"
    js.write_text(json.dumps(payload(results, info), indent=1, default=float))
    md, html = report(load(js), js.name).write(outdir / f"{name}.md")
    return md, html, js


def rerender(path: Path, outdir: Path) -> tuple[Path, Path]:
    """``wce report check``: the report of ``path`` (``NAME.json``) as ``NAME.md`` / ``.html`` in ``outdir``, the
    data copied beside them when it is elsewhere."""
    import shutil

    data = load(path)
    outdir.mkdir(parents=True, exist_ok=True)
    dest = outdir / path.name
    if dest.resolve() != path.resolve():
        shutil.copyfile(path, dest)
    return report(data, path.name).write(outdir / f"{path.stem}.md")
