"""``wce report compare``: per-dataset tables, ranks, critical-difference diagrams, plots, a plain summary."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import numpy as np

from ..._report import Document, save_png
from ..engine._cells import cells
from ..engine._store import Store
from ..engine._suite import Suite
from ..methods._metrics import METRICS
from ..methods._strategies import STRATEGIES
from ._blocks import analyse_families
from ._findings import (
    convergence_section,
    headline_section,
    literature_section,
    previous_section,
    sklearn_check_section,
)
from ._sections import (
    bayes_section,
    cost_section,
    files_section,
    progress_line,
    stored_datasets,
    tuned_section,
    wall_seconds,
)
from ._stats import analyse, cd_diagram, fold_means, with_methods

PRIMARY = ("average_precision", "f1", "macro_f1", "mcc", "balanced_accuracy", "worst_recall", "recall", "roc_auc",
           "brier", "ece")  # fmt: skip
#: the strategies whose per-class recall the seed question's table shows (weighting schemes and their kin)
SEED_STRATEGIES = (
    "baseline",
    "wce_balanced",
    "wce_inverse",
    "wce_inverse_sqrt",
    "wce_effective_number",
    "wce_enet",
    "wce_batch",
    "focal_balanced",
    "logit_adjusted",
    "ldam_drw",
    "cost_matrix",
    "prior_correction",
)


def _box_plot(df, metric: str, path: Path, order: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wide = fold_means(df, metric)[order]
    fig, ax = plt.subplots(figsize=(10, 0.3 * len(order) + 1.5))
    ax.boxplot(
        [wide[m].dropna().to_numpy() for m in order], orientation="horizontal", tick_labels=order, showmeans=True
    )
    for i, m in enumerate(order, 1):
        vals = wide[m].dropna().to_numpy()
        ax.scatter(vals, np.full(len(vals), i) + np.linspace(-0.15, 0.15, len(vals)), s=8, alpha=0.6, color="tab:blue")
    ax.invert_yaxis()
    ax.set_xlabel(f"{metric} (mean over folds), one dot per dataset")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    save_png(fig, path, dpi=110)
    plt.close(fig)


def _task(dataset: str) -> str:
    from ... import datasets as _ds

    return getattr(_ds.info(dataset), "task", "binary")


def _protocol_text(suite: Suite) -> str:
    """The protocol paragraph: splits, fitting, models, training, metrics, thresholds."""
    from ..methods._metrics import ECE_BINS, SHOT_THRESHOLDS

    p, t = suite.protocol, suite.training
    tasks = {_task(d) for d in suite.datasets}
    fixed = (
        "long-tailed datasets train on their long-tailed training part and test on their fixed, balanced test "
        f"part, once per repeat ({p.repeats} repeats; the model's initialisation and validation split vary with "
        "the repeat, the data split does not)"
    )
    split = (
        f"repeated stratified {p.folds}-fold cross-validation x {p.repeats} repeats (scikit-learn "
        f"`RepeatedStratifiedKFold`, seed {p.seed}, the same folds for every strategy)"
    )
    if tasks == {"longtail"}:
        split = fixed
    elif "longtail" in tasks:
        split += f"; {fixed}"
    text = (
        f"Protocol: {split}; standard scaling, resampling and weighting fitted on the training part only "
        "(imbalanced-learn `Pipeline`); every strategy of a fold shares the model's initialisation and validation "
        f"split (paired design). Models: {', '.join(suite.models)} (`linear` is logistic / softmax regression); "
        f"frameworks: {', '.join(suite.frameworks)}. Training: Adam lr {t.lr}, at most {t.max_epochs} full-batch "
        f"epochs, early stopping on a stratified {t.validation_fraction:.0%} validation split (patience {t.patience} "
        f"checks of 5 epochs; when a class has fewer than 10 training samples, "
        f"{'on the training objective instead' if t.no_validation_stop == 'training_loss' else 'all epochs'}), "
        f"L2 {t.l2}."
    )
    if "binary" in tasks:
        text += (
            " Binary metrics on the minority class (positive = 1) from scikit-learn / imbalanced-learn; the "
            "threshold for the label metrics is 0.5 except for `threshold` (Bayes minimum risk, 1 / (1 + IR))."
        )
        refs = [x for x in suite.strategies if STRATEGIES[x].estimator is not None]
        if refs:
            text += (
                f" Reference methods ({', '.join(f'`{x}`' for x in refs)}) replace the model with their own "
                "estimator (imbalanced-learn / scikit-learn defaults, one core), in the same folds and pipeline."
            )
        if p.tuned_threshold:
            text += (
                " Every binary cell is also scored at its decision threshold tuned on the training folds only "
                f"(`TunedThresholdClassifierCV`, {p.inner_folds} inner stratified folds, fewer when the minority "
                "has fewer than 2 samples per inner fold; objective balanced accuracy, i.e. Youden's J; SMOTE's "
                "neighbours sized for the inner folds' minority): the `<metric>@tuned` columns."
            )
    if tasks - {"binary"}:
        text += (
            " Multiclass metrics: macro F1, balanced accuracy, G-mean (imbalanced-learn, geometric mean of the "
            "per-class recalls), MCC, accuracy, macro one-vs-rest ROC-AUC and average precision, the worst class's "
            f"recall, and the mean recall of the many-shot (> {SHOT_THRESHOLDS['many']} training samples), "
            f"medium-shot and few-shot (< {SHOT_THRESHOLDS['few']}) classes (Liu et al. 2019's thresholds; empty "
            "groups are missing values); predictions are the most probable class."
        )
    return text + (
        f" Calibration: Brier score (scikit-learn; multiclass: summed over classes, range [0, 2]), expected "
        f"calibration error over {ECE_BINS} equal-width bins of the top probability (Guo et al. 2017) and log "
        "loss; lower is better, and their ranks put the lowest first."
    )


def _per_class(part, column: str = "class_recall"):
    """Methods x classes: the mean over cells of a per-class list column."""
    import pandas as pd

    rows = {m: np.mean(np.stack([np.asarray(v, float) for v in g[column]]), axis=0) for m, g in part.groupby("method")}
    return pd.DataFrame(rows).T


def _recall_plot(part, counts: np.ndarray, title: str, path: Path) -> None:
    """Recall against training class count, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rec = _per_class(part)
    order = np.argsort(counts)
    fig, ax = plt.subplots(figsize=(11, 5.5))
    colors, styles = plt.get_cmap("tab20"), ("-", "--", "-.", ":")
    for i, m in enumerate(rec.index):
        ax.plot(counts[order], rec.loc[m].to_numpy()[order], marker="o", ms=3, lw=1.2, label=m,
                color=colors(i % 20), linestyle=styles[(i // 7) % len(styles)])  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("training samples of the class (mean over cells, log scale)")
    ax.set_ylabel("recall (mean over cells)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    save_png(fig, path, dpi=110)
    plt.close(fig)


def _confusion_plot(part, methods: list[str], names: list[str], title: str, path: Path) -> None:
    """Row-normalised confusion matrices summed over cells (scikit-learn's ConfusionMatrixDisplay)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    fig, axes = plt.subplots(1, len(methods), figsize=(4.6 * len(methods), 4.4), squeeze=False)
    for ax, m in zip(axes[0], methods, strict=True):
        cm = np.sum([np.asarray(v, float) for v in part[part.method == m]["confusion"]], axis=0)
        cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        ConfusionMatrixDisplay(cm, display_labels=names).plot(ax=ax, colorbar=False, values_format=".2f",
                                                               include_values=len(names) <= 12)  # fmt: skip
        ax.set_title(m, fontsize=10)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_png(fig, path, dpi=110)
    plt.close(fig)


def _per_class_sections(doc: Document, mc, fig_dir: Path) -> None:
    """Per-class recall against training count and confusion matrices (most imbalanced dataset), seed4."""
    from ... import datasets as _ds

    doc.heading("Per class: recall against training class count")
    ir = {d: _ds.info(d).imbalance_ratio for d in mc["dataset"].unique()}
    worst = max(ir, key=ir.get)
    for name in dict.fromkeys([worst, *(["seed4"] if "seed4" in ir else [])]):
        part = mc[mc.dataset == name]
        counts = np.mean(np.stack([np.asarray(v, float) for v in part["train_counts"]]), axis=0)
        path = fig_dir / f"recall-by-class-{name}.png"
        _recall_plot(part, counts, f"{name} (IR {ir[name]:.1f}): recall per class, one line per method", path)
        doc.image(f"{fig_dir.name}/{path.name}", f"{name}: recall of each class against its training count")
    doc.heading(f"Confusion matrices: {worst}, the most imbalanced dataset (IR {ir[worst]:.1f})", 3)
    part = mc[mc.dataset == worst]
    methods = [m for m in ("baseline", "wce_balanced", "logit_adjusted", "cost_matrix") if m in set(part.method)]
    methods = methods or sorted(part.method.unique())[:2]
    names = [str(c) for c in _ds.load(worst, download=False).class_names] if _loads(worst) else None
    names = names or [str(i) for i in range(len(part["train_counts"].iloc[0]))]
    path = fig_dir / f"confusion-{worst}.png"
    _confusion_plot(part, methods, names, f"{worst}: rows = true class (normalised), columns = predicted", path)
    doc.image(f"{fig_dir.name}/{path.name}", f"{worst}: confusion matrices summed over cells, row-normalised")
    if "seed4" in ir:
        _seed_section(doc, mc[mc.dataset == "seed4"])


def _loads(name: str) -> bool:
    from ... import datasets as _ds

    try:
        _ds.load(name, download=False)
    except Exception:  # the report still renders without the class names
        return False
    return True


def _seed_section(doc: Document, part) -> None:
    """The seed question: class weights of each scheme on the four classes and the per-class recall they give."""
    from ... import class_weights

    counts = np.mean(np.stack([np.asarray(v, float) for v in part["train_counts"]]), axis=0)
    y = np.repeat(np.arange(len(counts)), np.round(counts).astype(int))
    doc.heading("The seed question: four classes", 3)
    schemes = ("balanced", "inverse", "inverse_sqrt", "effective_number", "enet")
    doc.para(
        "Class weights of each scheme for the mean training counts "
        f"{' / '.join(f'{c:.0f}' for c in counts)} (`wce_ref.class_weights(..., normalize='sum')`, so each row "
        "sums to 1; `inverse` normalised is the seed question's normalised inverse frequency). Under the default "
        "weighted-mean reduction the scale of the weights does not matter, only their ratios."
    )
    doc.table(
        ["scheme", *[f"class {i}" for i in range(len(counts))]],
        [[s, *[f"{w:.3f}" for w in class_weights(y, s, n_classes=len(counts), normalize="sum")]] for s in schemes],
    )
    rec = _per_class(part)
    order = [m for m in SEED_STRATEGIES if m in rec.index] + [m for m in rec.index if m not in SEED_STRATEGIES]
    doc.para("Per-class recall (mean over folds and repeats) of each strategy on `seed4`:")
    doc.table(
        ["method", *[f"class {i} (n={c:.0f})" for i, c in enumerate(counts)], "worst"],
        [[m, *[f"{v:.3f}" for v in rec.loc[m]], f"{rec.loc[m].min():.3f}"] for m in order],
    )


def _unchanged(doc: Document, ok) -> None:
    """Cells whose sampler returned the training data unchanged (ADASYN with nothing to generate ...)."""
    if "n_train_resampled" not in ok.columns:
        return
    same = ok[ok.n_train_resampled.notna() & (ok.n_train_resampled == ok.n_train)]
    if not len(same):
        return
    counts = same.groupby(["strategy", "dataset"]).size().reset_index(name="cells")
    doc.para(
        f"{len(same)} cell(s) whose sampler returned the training data unchanged (nothing to generate or remove); "
        "they train on the original data:"
    )
    doc.table(["strategy", "dataset", "cells"], counts.values.tolist())


def _mean_std(mean: float, std: float) -> str:
    """``mean ± std``; a dash where the metric has no value (a shot group without classes, say)."""
    if not np.isfinite(mean):
        return "-"
    return f"{mean:.3f} ± {std:.3f}" if np.isfinite(std) else f"{mean:.3f}"


def _fmt_p(p) -> str:
    return "-" if p is None or (isinstance(p, float) and np.isnan(p)) else f"{p:.3g}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def run_state(runs, n_stored: int, n_cells: int) -> str | None:
    """A warning when the report is partial: a run still writing, a run that was killed, cells missing."""
    notes = []
    if n_stored < n_cells:
        notes.append(f"**Incomplete: {n_stored} of the suite's {n_cells} cells are stored.**")
    unfinished = runs[runs["ended"].isna()] if len(runs) else runs
    for r in unfinished.itertuples():
        pid = None if "pid" not in unfinished.columns or r.pid != r.pid else int(r.pid)  # NaN: older stores
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(r.started))  # the same text in every time zone
        if pid is not None and r.host == socket.gethostname() and _pid_alive(pid):
            notes.append(
                f"**A run started {when} (process {pid}) is still writing to the store: this report shows "
                "the cells finished so far; render it again when the run ends.**"
            )
        elif pid is not None and r.host != socket.gethostname():
            notes.append(f"A run started {when} on host `{r.host}` has not finished (it may still be running).")
        elif n_stored < n_cells:
            notes.append(f"A run started {when} did not finish (interrupted or killed); the same command resumes it.")
        else:  # a later run finished what it left: nothing to resume
            notes.append(f"A run started {when} was interrupted; later runs stored the rest, and every cell is here.")
    return " ".join(notes) or None


def split_reuse(runs):
    """The runs that computed cells, and a sentence on the cells copied in by ``--reuse`` ('' when none)."""
    copy = runs["scheduler"].fillna("").str.startswith("reuse ")
    if not copy.any():
        return runs, ""
    parts = [
        f"{int(r.cells_run):,} from `{Path(r.scheduler.removeprefix('reuse ')).name}`" for r in runs[copy].itertuples()
    ]
    note = (
        f" Cells reused (`--reuse`) instead of run: {', '.join(parts)}; they were computed by runs of another suite "
        "with the same configuration hash (the same computation), and their cell times are those runs' (wall clock "
        "not included above)."
    )
    return runs[~copy], note


PREVIOUS_PROTOCOL = (
    "**These results are from the suite's previous protocol**: its trained cells were computed before the "
    "converged-training protocol (linear models trained by Adam to an epoch cap; the MLP's validation split taken "
    "after resampling, each strategy early-stopped on its own weighted validation loss), which handicaps the "
    "linear strategies against the tree ensembles. `wce compare {name}` re-runs them under the current protocol "
    "(the reference methods' cells are kept)."
)


def _current(suite: Suite, df):
    """Drop the trained cells of the previous protocol (stored under today's reference hash) when the store holds
    the current protocol's: never two protocols in one table. True when only the previous protocol's are there."""
    from ..methods._strategies import REFERENCE_MODEL

    learned, ref = suite.config_hash(), suite.config_hash(reference=True)
    if learned == ref:
        return df, False
    old = (df["config_hash"] == ref) & (df["model"] != REFERENCE_MODEL)
    if not old.any():
        return df, False
    if (df["config_hash"] == learned).any():
        return df[~old], False
    return df, True


def _load(suite: Suite, db: str | Path):
    """The suite's cells, failure history and runs from the store (read-only); True when they are the previous
    protocol's."""
    store = Store(db, readonly=True)  # reporting never writes to the store, nor creates one
    df = store.frame(config_hash=suite.config_hashes(), suite=suite.name)
    history = store.frame(config_hash=suite.config_hashes(), suite=suite.name, table="failures")
    df, previous = _current(suite, df)
    history, _ = _current(suite, history) if len(history) else (history, False)
    runs = store.runs(suite.config_hash(reference=previous), suite.name)
    store.close()
    if df.empty:
        raise ValueError(f"db: no results for suite {suite.name!r} in {db}; run `wce compare {suite.name}` first")
    return df, history, runs, previous


def _split_checks(suite: Suite, df):
    """The suite's methods' cells and the solver-check cells (``check_strategies`` with ``sklearn_lr``)."""
    if not suite.check_strategies or "sklearn_lr" in suite.models:
        return df, df.iloc[:0]
    check = df["model"] == "sklearn_lr"
    return df[~check], df[check]


def _by_strategy(suite: Suite, finished):
    """The cells the literature's checks name by strategy: the suite's first model and framework, and the
    reference estimators; with several models, that model named (``''`` when there is one)."""
    from ..methods._strategies import REFERENCE_MODEL

    if finished["method"].equals(finished["strategy"]):
        return "", finished
    first = (finished["model"] == suite.models[0]) & (finished["framework"] == suite.frameworks[0])
    part = finished[first | (finished["model"] == REFERENCE_MODEL)].copy()
    part["method"] = part["strategy"]
    return f"`{suite.models[0]}/{suite.frameworks[0]}`", part


def _provenance(doc: Document, suite: Suite, db, df, ok, failed, runs, reused: str, previous=None) -> None:
    """Run time, versions, description and protocol: below the findings."""
    wall = wall_seconds(runs, df)  # the runs' union; a run still writing up to its last cell
    cpu = float(df["seconds"].sum())
    versions = _versions_text(runs["versions"].iloc[-1] if len(runs) else "{}")
    run_time = f"{wall / 60:.1f} min wall clock" if wall and wall == wall else "wall clock not recorded"
    doc.heading("Protocol and provenance")
    doc.para(
        f"Generated by `wce report compare {suite.name}` from `{Path(db).name}`"
        f"{f' with `--previous {Path(previous).name}`' if previous else ''}: {len(df)} cells "
        f"({len(ok)} ok, {len(failed)} failed or inapplicable), {ok['dataset'].nunique()} datasets, "
        f"{ok['method'].nunique()} methods. Run time: {run_time} over {len(runs)} run(s) (jobs: "
        f"{', '.join(str(j) for j in runs['jobs'].tolist()) if len(runs) else '-'}), {cpu / 60:.1f} min of cell time "
        f"({cpu / 3600:.2f} CPU hours). Versions: {versions}.{reused}"
    )
    if suite.description:
        doc.para(suite.description)
    doc.para(_protocol_text(suite))
    files_section(doc, suite)
    if suite.skipped:
        doc.bullets([f"skipped dataset `{n}`: {r}" for n, r in suite.skipped])


def _versions_text(versions: str) -> str:
    """The run's versions as prose (``numpy 2.4.6, scikit-learn 1.9.1``), not the store's JSON; a dash when absent.

    >>> _versions_text('{"python": "3.11.7", "numpy": "2.4.6"}'), _versions_text("{}"), _versions_text("x")
    ('python 3.11.7, numpy 2.4.6', '-', 'x')
    """
    try:
        parsed = json.loads(versions)
    except (TypeError, ValueError):
        return str(versions)
    if not isinstance(parsed, dict):
        return str(versions)
    return ", ".join(f"{k} {v}" for k, v in parsed.items()) or "-"


def _previous(suite: Suite, path: str | Path):
    """The cells of the suite's previous protocol in the store ``path``: its hash before the converged-training
    protocol (today's reference hash), learned cells only."""
    store = Store(path, readonly=True)
    try:
        old = store.frame(config_hash=suite.config_hash(reference=True), suite=suite.name)
    finally:
        store.close()
    old = old[(old["model"] != "reference") & (old["model"] != "sklearn_lr")]
    return with_methods(old) if len(old) else None


def render(suite: Suite, db: str | Path, out: str | Path = "reports", previous: str | Path | None = None):
    """Write ``compare-SUITE.md`` / ``.html`` and their figures into ``out`` from the store ``db``; with
    ``previous``, a store of the suite's previous protocol, a section comparing the two headlines."""
    from ._literature import evaluate

    df, history, runs, previous_protocol = _load(suite, db)
    df, checks = _split_checks(suite, df)
    out = Path(out)
    fig_dir = out / f"compare-{suite.name}"
    fig_dir.mkdir(parents=True, exist_ok=True)
    finished = with_methods(df)
    ok = finished[finished.status == "ok"]
    failed = df[df.status != "ok"]
    metrics = [m for m in METRICS if m in ok.columns and m in suite.metrics and ok[m].notna().any()]
    lacking = [m for m in suite.metrics if m not in ok.columns]
    counts = {m: ok.groupby("method")[m].count() for m in metrics}
    partial = {m: sorted(c.index[c > 0]) for m, c in counts.items() if (c == 0).any()}
    doc = Document(f"Imbalance strategies compared: suite {suite.name}")
    all_cells = [c for c in cells(suite) if c.model != "sklearn_lr" or "sklearn_lr" in suite.models]
    if previous_protocol:
        doc.para(PREVIOUS_PROTOCOL.format(name=suite.name))
    state = None if previous_protocol else run_state(runs, len(df), len(all_cells))
    if state:
        doc.para(state)
    progress = None if previous_protocol else progress_line(df, all_cells)
    if progress:
        doc.para(progress)
    runs, reused = split_reuse(runs)
    stored = stored_datasets(df, all_cells)
    if progress and stored:  # a partial store: the analysis uses the datasets whose cells are all there
        finished, ok = finished[finished.dataset.isin(stored)], ok[ok.dataset.isin(stored)]
    blocks = {m: analyse_families(finished, m) for m in metrics}
    headline_section(doc, blocks, [m for m in PRIMARY if m in blocks])
    model, literature_cells = _by_strategy(suite, finished)
    literature_section(doc, evaluate(literature_cells, suite.datasets), model)
    convergence_section(doc, df)
    sklearn_check_section(doc, checks, ok)
    before = _previous(suite, previous) if previous else None
    if before is not None:
        learned = finished[finished["model"] != "reference"]
        previous_section(doc, suite, learned, before, Path(previous).name, [m for m in PRIMARY if m in blocks])
    stats = {m: analyse(ok, m) for m in metrics}
    if lacking:
        doc.para(
            f"The store lacks the metric(s) {', '.join(f'`{m}`' for m in lacking)}: its cells were recorded before "
            "they existed and are not recomputed here; a new run of the suite in a fresh store records them."
        )
    for m, have in partial.items():
        doc.para(
            f"`{m}` is recorded for {len(have)} of {ok['method'].nunique()} methods only "
            f"({', '.join(f'`{x}`' for x in have)}): the other methods' cells were stored before the metric existed "
            "and are not recomputed here, so its ranks and tests compare these methods alone; a new run of the "
            "suite in a fresh store records it for every method."
        )

    fams = {s.name: s.family for s in STRATEGIES.values()}
    doc.para(
        "Reading guide: weighting, resampling and threshold moving all trade precision for recall; "
        "`average_precision` and `roc_auc` do not depend on the threshold, so they show whether a strategy "
        "improves the *ranking* of samples rather than only shifting the decision threshold."
    )

    if suite.published:
        doc.heading("Published comparison")
        header = ["method", "source", *suite.published.get("metrics", [])]
        rows = []
        for method, vals in suite.published.get("results", {}).items():
            rows.append([method, "published", *[vals.get(k, "-") for k in header[2:]]])
            mine = ok[ok.method == method]
            if len(mine):
                rows.append([method, "this run (mean)", *[float(mine[k].mean()) for k in header[2:]]])
        doc.para(suite.published.get("citation", ""))
        doc.table(header, rows)

    # --- ranks
    import pandas as pd

    _family_ranks(doc, blocks, metrics, fams)
    doc.heading("Secondary view: mean ranks (1 = best) over datasets", 3)
    doc.para("Every dataset a block of its own, as if related tasks were independent (they are not: see above).")
    rank_df = pd.DataFrame({m: stats[m].ranks for m in metrics})
    rank_df.insert(0, "family", [fams.get(i.split(" (")[0], "") for i in rank_df.index])
    rank_df = rank_df.sort_values(metrics[0] if "average_precision" not in metrics else "average_precision")
    rank_df.index.name = "method"
    doc.frame(rank_df, floatfmt="{:.2f}")
    fr = [
        [m, stats[m].n_datasets, _fmt_p(stats[m].friedman_stat), _fmt_p(stats[m].friedman_p), _fmt_p(stats[m].cd)]
        for m in metrics
    ]
    doc.table(["metric", "datasets", "Friedman chi2", "p", "Nemenyi CD (alpha 0.05)"], fr)
    dropped = sorted({d for m in metrics for d in stats[m].dropped})
    if dropped:
        doc.para(
            "Datasets left out of some metric's rank statistics because a value is missing (a failed cell, or a "
            f"long-tail group with no class): {', '.join(dropped)}."
        )

    # --- CD diagrams and plots
    doc.heading("Critical-difference diagrams")
    for m in metrics:
        path = fig_dir / f"cd-{m}.png"
        if cd_diagram(blocks[m], path):
            doc.image(
                f"{fig_dir.name}/{path.name}",
                f"{m}: methods joined by a bar are not significantly different (Nemenyi, alpha 0.05)",
            )
    doc.heading("Per-metric distributions over datasets")
    for m in metrics:
        path = fig_dir / f"box-{m}.png"
        _box_plot(ok, m, path, list(stats[m].ranks.index))
        doc.image(f"{fig_dir.name}/{path.name}", f"{m} per method (box: datasets; triangle: mean)")

    # --- Wilcoxon
    doc.heading("Pairwise Wilcoxon signed-rank tests, Holm-corrected")
    for m in metrics:
        w = stats[m].wilcoxon
        if w is None or not len(w):
            continue
        doc.heading(m, 3)
        w = w.sort_values(["control", "p_holm"])
        doc.table(
            ["method", "vs", "wins", "ties", "losses", "mean diff", "p", "p (Holm)"],
            [
                [r.method, r.control, r.wins, r.ties, r.losses, f"{r.mean_diff:+.4f}", _fmt_p(r.p), _fmt_p(r.p_holm)]
                for r in w.itertuples()
            ],
        )

    tuned_section(doc, ok, metrics)
    bayes_section(doc, ok, metrics)
    cost_section(doc, df, runs, all_cells)

    # --- per dataset
    doc.heading("Per dataset: mean ± std over folds and repeats")
    from ... import datasets as _ds

    for name in sorted(ok["dataset"].unique()):
        part = ok[ok.dataset == name]
        info = _ds.info(name)
        doc.heading(f"{name} (rows {info.n_rows:,}, IR {info.imbalance_ratio:.{info.ir_decimals}f})", 3)
        g = part.groupby("method")[metrics]
        mean, std = g.mean(), g.std(ddof=1).fillna(0.0)
        order = mean.sort_values(
            metrics[0] if "average_precision" not in metrics else "average_precision", ascending=False
        ).index
        rows = [[m, *[_mean_std(mean.loc[m, k], std.loc[m, k]) for k in metrics]] for m in order]
        doc.table(["method", *metrics], rows)

    multiclass = ok[ok["dataset"].map(lambda d: _task(d) != "binary")]
    if len(multiclass) and "class_recall" in multiclass.columns:
        _per_class_sections(doc, multiclass, fig_dir)
    _unchanged(doc, ok)
    if len(failed):
        doc.heading("Failed cells")
        errs = failed.groupby(["dataset", "strategy", "error"]).size().reset_index(name="cells")
        doc.table(["dataset", "strategy", "error", "cells"], errs.values.tolist())
    if len(history):
        doc.para(
            f"{len(history)} earlier failure(s) of cells that were retried are kept in the store's `failures` table."
        )
    _provenance(doc, suite, db, df, ok, failed, runs, reused, previous)
    return doc.write(out / f"compare-{suite.name}.md")


def _family_ranks(doc: Document, blocks: dict, metrics: list[str], fams: dict[str, str]) -> None:
    """The primary ranks: mean over source families, with the Friedman / Nemenyi figures and the merged entries."""
    import pandas as pd

    doc.heading("Mean ranks over source families (1 = best)")
    rank_df = pd.DataFrame({m: blocks[m].ranks for m in metrics})
    rank_df.insert(0, "family", [fams.get(i.split(" = ")[0], "") for i in rank_df.index])
    rank_df = rank_df.sort_values("average_precision" if "average_precision" in metrics else metrics[0])
    rank_df.index.name = "method"
    doc.frame(rank_df, floatfmt="{:.2f}")
    doc.table(
        ["metric", "datasets", "families", "Friedman chi2", "p", "Nemenyi CD (alpha 0.05)"],
        [[m, b.n_datasets, b.n_families, _fmt_p(b.friedman_stat), _fmt_p(b.friedman_p), _fmt_p(b.cd)]
         for m, b in blocks.items()],
    )  # fmt: skip
    notes = sorted({f"{', '.join(f'`{x}`' for x in ms)} are identical on {m}" for m, b in blocks.items()
                    for ms in b.table.merged.values()})  # fmt: skip
    notes += sorted({f"`{x}` is not ranked on {m}: no value on {n} datasets (failed or inapplicable cells)"
                     for m, b in blocks.items() for x, n in b.table.unranked.items()})  # fmt: skip
    dups = sorted({d for b in blocks.values() for d in b.table.duplicates})
    if dups:
        notes.append(f"counted once, as the task another collection publishes: {', '.join(f'`{d}`' for d in dups)}")
    if notes:
        doc.bullets(notes)
