"""Report sections of issue 13: tuned thresholds, the Bayesian key pairs, the suite's cost, the run's progress.

Each function appends to a :class:`~wce_ref._report.Document` from the
suite's ``ok`` cells (with their ``method`` column); a section whose data the
store lacks (a suite without ``tuned_threshold``, a single dataset) says so in
one line or is left out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine._cost import DEFAULT_WORKERS, projected_wall_time, suite_cost
from ..methods._cell import TUNED
from ._bayes import DECISION_PROBABILITY, DEFAULT_ROPE, KEY_PAIRS, compare_pairs
from ._stats import analyse

#: the metrics the Bayesian key pairs are compared on (``@tuned`` pairs: the threshold-dependent ones only)
BAYES_METRICS = ("average_precision", "balanced_accuracy", "f1", "mcc", "brier")


def tuned_metrics(ok: Any, metrics: list[str]) -> list[str]:
    """The suite's metrics that were also scored at the tuned threshold (``<metric>@tuned`` in the store)."""
    return [m for m in metrics if f"{m}{TUNED}" in ok.columns and ok[f"{m}{TUNED}"].notna().any()]


def _at_tuned(ok: Any, metric: str) -> Any:
    """The cells with ``metric`` replaced by its value at the tuned threshold."""
    return ok.assign(**{metric: ok[f"{metric}{TUNED}"]})


def tuned_section(doc: Any, ok: Any, metrics: list[str]) -> None:
    """Default-threshold and tuned-threshold mean ranks side by side, and what tuning changes per method."""
    names = tuned_metrics(ok, metrics)
    if not names:
        return
    import pandas as pd

    doc.heading("Default threshold vs threshold tuned on the training folds")
    untuned = int((ok[f"was{TUNED}"] == 0).sum()) if f"was{TUNED}" in ok.columns else 0
    doc.para(
        "Every cell is scored twice: at the strategy's own threshold (0.5; Bayes minimum risk for `threshold`) and "
        "at the threshold that maximises balanced accuracy in an inner stratified cross-validation of the training "
        "folds (scikit-learn `TunedThresholdClassifierCV`, refitted on all training folds; the test fold is never "
        "seen). A strategy that ranks well only at the default threshold *moves the threshold*; one that still "
        "ranks well after tuning *ranks better*. `average_precision`, `roc_auc` and the calibration metrics do not "
        f"depend on the threshold and are the same in both columns. {untuned} cell(s) could not be tuned (fewer "
        "than 4 minority training samples, or an inner-fold fit failed or predicted a constant; e.g. RUSBoost "
        '"worse than random" on 2 minority samples): their tuned scores are at 0.5.'
    )
    cols = {}
    for m in names:
        cols[f"{m}"] = analyse(ok, m).ranks
        cols[f"{m}{TUNED}"] = analyse(_at_tuned(ok, m), m).ranks
    ranks = pd.DataFrame(cols)
    key = "balanced_accuracy" if "balanced_accuracy" in names else names[0]  # the tuning objective first
    ranks = ranks.sort_values(f"{key}{TUNED}")
    ranks.index.name = "method (mean rank, 1 = best)"
    doc.frame(ranks, floatfmt="{:.2f}")
    g = ok.groupby("method")
    gain = pd.DataFrame({m: g[f"{m}{TUNED}"].mean() - g[m].mean() for m in names})
    gain["median tuned threshold"] = g[f"threshold{TUNED}"].median()
    gain = gain.sort_values(key, ascending=False)
    gain.index.name = "method (tuned - default, mean over cells)"
    doc.para("What tuning the threshold changes, per method (mean over every cell):")
    doc.frame(gain, floatfmt="{:+.3f}")


def _wide(ok: Any, metric: str) -> Any:
    """Source families x methods of ``metric``: the mean over each family's datasets of their fold means, a
    duplicated task counted once; with ``baseline@tuned`` where the store has it."""
    from ._blocks import dataset_families, duplicated
    from ._stats import fold_means

    wide = fold_means(ok, metric)
    if f"{metric}{TUNED}" in ok.columns and "baseline" in wide.columns:
        base = ok[ok["method"] == "baseline"]
        wide[f"baseline{TUNED}"] = base.groupby("dataset")[f"{metric}{TUNED}"].mean()
    wide = wide.drop(index=duplicated(wide.index))
    family = dataset_families(wide.index)
    return wide.groupby(lambda d: family[d]).mean()


def bayes_section(doc: Any, ok: Any, metrics: list[str], *, rope: float = DEFAULT_ROPE) -> None:
    """The Bayesian signed-rank test (Benavoli et al. 2017) of the key pairs, the ROPE stated."""
    from ..methods._metrics import LOWER_IS_BETTER

    rows = []
    for m in [m for m in BAYES_METRICS if m in metrics]:
        sign = -1.0 if m in LOWER_IS_BETTER else 1.0  # the test's "better" is "higher": losses are negated
        table = compare_pairs(sign * _wide(ok, m), KEY_PAIRS, rope=rope)
        for r in table.itertuples():
            rows.append([m, r.left, r.right, r.n_datasets, f"{sign * r.mean_diff:+.4f}", f"{r.p_left:.3f}",
                         f"{r.p_rope:.3f}", f"{r.p_right:.3f}", r.verdict])  # fmt: skip
    if not rows:
        return
    doc.heading("A second opinion: Bayesian signed-rank test of the key pairs")
    doc.para(
        "Bayesian signed-rank test over source families (Benavoli, Corani, Demšar & Zaffalon, JMLR 18(77), 2017; "
        "`baycomp`), on each family's mean of its datasets' means over folds (baycomp's hierarchical test over "
        "folds within datasets needs PyStan, which these machines cannot install). "
        f"**ROPE: ±{rope:g}** in the metric's units (differences smaller than that count as practically "
        "equivalent). P(left) / P(rope) / P(right): the posterior "
        f"probabilities that the left method is better, that the two are equivalent, that the right one is better; "
        f"a verdict needs {DECISION_PROBABILITY:.2f}. `baseline{TUNED}` is plain cross entropy scored at its "
        "threshold tuned on the training folds (threshold-dependent metrics only). Brier score: lower is better, "
        'the sign is turned so that "better" means a lower score and the difference is left - right as measured.'
    )
    doc.table(["metric", "left", "right", "families", "mean diff", "P(left)", "P(rope)", "P(right)", "verdict"], rows)


def _extrapolated_seconds(df: Any, todo: Any) -> np.ndarray:
    """Per-cell seconds of the cells not yet run: a log-log fit of cell time on dataset rows x strategy factor."""
    from ... import datasets as _ds

    rows = {d: _ds.info(d).n_rows for d in set(df["dataset"]) | set(todo["dataset"])}
    per = df.groupby("dataset")["seconds"].mean()
    x = np.log([rows[d] for d in per.index])
    if len(per) >= 2 and np.ptp(x) > 0:
        slope, icept = np.polyfit(x, np.log(per.to_numpy()), 1)
    else:
        slope, icept = 1.0, float(np.log(per.mean()) - np.log(max(rows[per.index[0]], 1)))
    ratio = (df["seconds"] / df["dataset"].map(per)).groupby(df["strategy"]).mean()
    base = np.exp(icept + slope * np.log(todo["dataset"].map(rows).to_numpy(dtype=float)))
    return base * todo["strategy"].map(ratio).fillna(1.0).to_numpy()


def _run_end(run: Any, last: float | None) -> float:
    """A run's end: ``ended``, or for an unfinished run the last stored cell (never before its start)."""
    if run.ended is not None and run.ended == run.ended:  # NaN: not ended
        return float(run.ended)
    return max(float(run.started), last if last is not None else float(run.started))


def wall_seconds(runs: Any, df: Any) -> float | None:
    """Seconds during which some run of the suite was going: the union of [started, ended] over its runs.

    A run without ``ended`` (still writing, or killed) counts up to the last cell the store holds.
    """
    if not len(runs):
        return None
    last = float(df["finished"].max()) if "finished" in df.columns and df["finished"].notna().any() else None
    spans = sorted((float(r.started), _run_end(r, last)) for r in runs.itertuples())
    total, (lo, hi) = 0.0, spans[0]
    for a, b in spans[1:]:
        if a > hi:
            total, lo, hi = total + hi - lo, a, b
        else:
            hi = max(hi, b)
    return total + hi - lo


def cost_section(doc: Any, df: Any, runs: Any, all_cells: list) -> None:
    """Cells, CPU hours and wall time of the suite, and its projected wall time on a Dask cluster of N workers."""
    import pandas as pd

    doc.heading("Cost")
    measured = suite_cost(df["seconds"].fillna(0.0), wall_s=wall_seconds(runs, df))
    doc.para(
        f"Measured ({len(df):,} stored cells; a cell's time is its wall-clock seconds on one worker process, so on "
        "a machine shared with other jobs it includes waiting for a core; the wall time is the union of the runs' "
        "intervals, an unfinished run counted up to its last stored cell):"
    )
    doc.bullets([line.removeprefix("- ") for line in measured.lines()])
    cols = ["dataset", "strategy", "model", "framework", "repeat", "fold"]
    done = set(zip(*(df[c] for c in cols), strict=True))
    missing = [(c.dataset, c.strategy) for c in all_cells if tuple(getattr(c, k) for k in cols) not in done]
    todo = pd.DataFrame(missing, columns=["dataset", "strategy"])
    if not len(todo):
        return
    rest = _extrapolated_seconds(df, todo)
    full = np.concatenate([df["seconds"].fillna(0.0).to_numpy(), rest])
    lines = [
        f"all {len(all_cells):,} cells: about {full.sum() / 3600:.1f} CPU hours ({rest.sum() / 3600:.1f} h for the "
        f"{len(todo):,} not yet run, extrapolated from the stored cells: a log-log fit of the mean cell time on the "
        "dataset's rows, times each strategy's ratio to its dataset's mean)",
        f"on 2 local processes: about {projected_wall_time(full, 2, overhead_s=0.0) / 3600:.1f} h wall time",
        *[f"projected on a Dask cluster of {n} single-threaded workers: about "
          f"{projected_wall_time(full, n) / 3600:.2f} h (longest cell first)" for n in DEFAULT_WORKERS if n > 1],
    ]  # fmt: skip
    doc.para("Projected for the whole suite:")
    doc.bullets(lines)


def stored_datasets(df: Any, all_cells: list) -> list[str]:
    """The datasets whose every cell of the suite is stored (ok, failed or inapplicable)."""
    total: dict[str, int] = {}
    for c in all_cells:
        total[c.dataset] = total.get(c.dataset, 0) + 1
    have = df.groupby("dataset").size()
    return [d for d, n in total.items() if int(have.get(d, 0)) >= n]


def progress_line(df: Any, all_cells: list) -> str | None:
    """``k of n datasets complete`` when the store holds part of the suite (None when it is complete)."""
    datasets = {c.dataset for c in all_cells}
    stored = stored_datasets(df, all_cells)
    if len(stored) == len(datasets):
        return None
    started = len(set(df["dataset"]) - set(stored))
    used = (f"The analysis below uses the {len(stored)} dataset(s) whose cells are all stored; the others join it "
            "when the run resumes (the same command).") if stored else (
            "No dataset has all its cells yet: the analysis below uses the partial results.")  # fmt: skip
    return (
        f"**Datasets: {len(stored)} of {len(datasets)} complete, {started} partly run, "
        f"{len(datasets) - len(stored) - started} not started.** {used} A method's failed or inapplicable cells "
        "(listed under 'Failed cells') count as its worst value on their dataset, never averaged away."
    )


def files_section(doc: Any, suite: Any) -> None:
    """The user files the suite ran on: each named with its path and SHA-256 (the bytes the run read)."""
    if suite.files:
        doc.para(
            "Datasets read from the user's files (checked as by `wce datasets load`; the SHA-256 of the bytes read):"
        )
        doc.bullets([f.describe() for f in suite.files])
