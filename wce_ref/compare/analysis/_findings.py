"""The report's findings: the headline over source families, the literature, convergence and the solver check.

Small section functions over a :class:`~wce_ref._report.Document`; the numbers come from the store through
:mod:`._blocks` (families as blocks) and :mod:`._literature` (published findings).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._blocks import PRECISION, BlockStats, entry_of

#: how far the linear model's mean average precision may be from scikit-learn's at the same penalty
SKLEARN_TOLERANCE = 0.02


def _fmt_p(p: float | None) -> str:
    return "-" if p is None or p != p else f"{p:.2g}"


def _name(entry: str) -> str:
    return " = ".join(f"`{m}`" for m in entry.split(" = "))


def headline_section(doc: Any, stats: dict[str, BlockStats], primary: list[str]) -> None:
    """The answer: best mean ranks over families per primary metric, with Friedman / Nemenyi's verdict."""
    doc.heading("The answer, over source families", anchor="answer")
    if not stats:
        doc.para("**No finished cell has a metric to rank yet** (every stored cell failed: see 'Failed cells').")
        return
    any_st = next(iter(stats.values()))
    power = ""
    if 1 < any_st.n_families < 6:
        power = (f" With {any_st.n_families} families the smallest two-sided Wilcoxon p-value is "
                 f"{2 / 2**any_st.n_families:.2g}: no paired difference can be significant at 0.05 here, whatever "
                 "the data; read the wins and losses, and the larger suites, for evidence.")  # fmt: skip
    doc.para(
        f"{any_st.n_datasets} datasets from {any_st.n_families} source families (tasks cut from the same data "
        f"count as one block; a task two collections publish counts once). Values rounded to {PRECISION} "
        "decimals before ranking; methods identical on a metric are one entry; a failed or inapplicable cell "
        f"ranks its method last on that dataset.{power}"
    )
    lines = []
    for m in [m for m in primary if m in stats]:
        st = stats[m]
        top = list(st.ranks.index[:3])
        line = f"**{m}**: best {', '.join(f'{_name(x)} ({st.ranks[x]:.1f})' for x in top)}"
        base = entry_of(st.table, "baseline")
        if base is not None and base in st.ranks:
            line += f"; plain CE {st.ranks[base]:.1f}"
            if st.cd is not None and top[0] != base:
                gap = st.ranks[base] - st.ranks[top[0]]
                verdict = "significantly" if gap > st.cd else "not significantly"
                line += f" ({verdict} worse than the best, CD {st.cd:.1f})"
        if st.friedman_p is not None:
            line += f"; Friedman p = {_fmt_p(st.friedman_p)}"
        lines.append(line + ".")
    doc.bullets(lines)
    _wce_lines(doc, stats, primary)


def _wce_lines(doc: Any, stats: dict[str, BlockStats], primary: list[str]) -> None:
    rows = []
    for m in [m for m in primary if m in stats]:
        st, w = stats[m], stats[m].wilcoxon
        a, b = entry_of(st.table, "wce_balanced"), entry_of(st.table, "baseline")
        if w is None or not len(w) or a is None or b is None or a == b:
            continue
        row = w[(w.control == b) & (w.method == a)]
        if len(row):
            r = row.iloc[0]
            rows.append(f"{m}: families won / tied / lost {r.wins} / {r.ties} / {r.losses}, mean difference "
                        f"{r.mean_diff:+.3f}, Wilcoxon-Holm p = {_fmt_p(r.p_holm)}")  # fmt: skip
    if rows:
        doc.para("Weighted cross entropy (balanced weights) against plain cross entropy, over families:")
        doc.bullets(rows)


def literature_section(doc: Any, results: list, model: str = "") -> None:
    """Against the literature: each published finding, its setting, this suite's evidence and a verdict."""
    doc.heading("Against the literature")
    on = f" A strategy named in a check is its cells with the suite's first model ({model})." if model else ""
    doc.para(
        "Each published finding (`wce_ref/compare/analysis/literature.toml`) tested on this suite's store: the "
        "evidence and verdicts are computed by the report generator. A check is confirmed or contradicted at the 0.05 "
        "level (Wilcoxon signed-rank over families, Holm-corrected over the report's paired checks; rank "
        f"positions; Bayesian decisions at 0.95), inconclusive otherwise.{on}"
    )
    doc.table(
        ["finding", "source and setting", "verdict"],
        [[r.claim.finding, f"{r.claim.source}; {r.claim.setting}", f"**{r.verdict}**"] for r in results],
    )
    rows = [[r.claim.id, c.text, c.evidence, c.verdict] for r in results for c in r.checks]
    doc.table(["finding", "check", "this suite's evidence", "check verdict"], rows)


def convergence_section(doc: Any, df: Any) -> None:
    """Per strategy: the share of cells whose training met its stopping rule, and the iterations it used."""
    have = df[df["status"] != "error"]
    if "converged" not in have.columns or have["converged"].isna().all():
        doc.para("This store predates convergence records: its cells do not say whether training converged.")
        return
    doc.heading("Convergence")
    doc.para(
        "Linear models: L-BFGS to the optimum (converged = gradient or relative-decrease tolerance met before "
        "`max_iter`); mini-batch weights and losses that are not smooth: Adam until early stopping on the plain "
        "validation cross entropy, or, where a class is too small to hold validation rows out, until the training "
        "objective stops improving (`training_loss`) (converged = stopped by the criterion, not the epoch cap). "
        "The reference ensembles have no iterations and are not listed."
    )
    trained = have[have["converged"].notna()]
    rows = []
    for (strategy, model), g in trained.groupby(["strategy", "model"]):
        it = g["epochs"].to_numpy(dtype=float)
        stops = g["stop"].fillna("").str.replace(r"failed: .*", "failed", regex=True).value_counts()
        rows.append([strategy, model, len(g), f"{g['converged'].mean():.1%}", f"{np.median(it):.0f}",
                     f"{it.max():.0f}", ", ".join(f"{k} {v}" for k, v in stops.items())])  # fmt: skip
    doc.table(["strategy", "model", "cells", "converged", "median iterations / epochs", "max", "how it stopped"], rows)
    linear = trained[trained["model"] == "linear"]
    if len(linear):
        doc.para(f"Linear cells recorded as converged: {linear['converged'].mean():.2%} of {len(linear):,}.")


def sklearn_check_section(doc: Any, checks: Any, ok: Any) -> None:
    """The linear model against scikit-learn's LogisticRegression at the same penalty, on the same folds."""
    if not len(checks):
        return
    doc.heading("Solver check: scikit-learn's LogisticRegression at the same penalty")
    rows, outside = [], []
    for strategy in sorted(set(checks["strategy"])):
        ours = ok[(ok["strategy"] == strategy) & (ok["model"] == "linear")]
        theirs = checks[(checks["strategy"] == strategy) & (checks["status"] == "ok")]
        a = ours.groupby("dataset")["average_precision"].mean()
        b = theirs.groupby("dataset")["average_precision"].mean()
        both = a.to_frame("ours").join(b.to_frame("sklearn"), how="inner")
        diff = (both["ours"] - both["sklearn"]).abs()
        within = int((diff <= SKLEARN_TOLERANCE).sum())
        rows.append([strategy, len(both), f"{within} ({within / max(len(both), 1):.1%})", f"{diff.max():.4f}",
                     f"{diff.median():.5f}"])  # fmt: skip
        outside += [f"`{strategy}` on `{d}`: {both.loc[d, 'ours']:.3f} vs {both.loc[d, 'sklearn']:.3f}"
                    for d in diff[diff > SKLEARN_TOLERANCE].index]  # fmt: skip
    doc.para(
        "Mean average precision per dataset of the linear model (L-BFGS on the reference loss) and of "
        "`LogisticRegression(C = 1 / (l2 * sum of sample weights))` (the same objective: see "
        f"`PenalisedLogisticRegression`), on the same folds; within {SKLEARN_TOLERANCE} counts as the same optimum."
    )
    doc.table(["strategy", "datasets", f"within {SKLEARN_TOLERANCE}", "largest difference", "median difference"], rows)
    if outside:
        doc.bullets(outside)


def previous_section(doc: Any, suite: Any, now: Any, before: Any, source: str, metrics: list[str]) -> None:
    """What the protocol change moved: the headline of the cells of the previous protocol (``before``, read from
    ``source``) beside this protocol's, on the datasets both hold, over families."""
    from ..methods._metrics import LOWER_IS_BETTER
    from ._blocks import analyse_families, entry_of, family_values

    common = sorted(set(before["dataset"]) & set(now.loc[now["status"] == "ok", "dataset"]))
    if not common:
        return
    doc.heading("What the protocol change moved")
    doc.para(
        f"The same suite under its previous protocol (`{source}`: linear models trained by Adam to an epoch cap, "
        "the MLP's validation split taken after resampling and each strategy stopped on its own weighted "
        f"validation loss), on the {len(common)} dataset(s) both hold, beside this protocol: mean ranks over "
        "families of plain CE and balanced WCE, the mean difference WCE - CE of their family values, and the best "
        "entry. A change of sign or of the best entry is a conclusion the previous protocol got wrong."
    )
    rows = []
    for metric in metrics:
        cols = []
        for cells in (before, now):
            part = cells[cells["dataset"].isin(common)]
            if metric not in part.columns or part[metric].isna().all():
                cols.append("-")
                continue
            st = analyse_families(part, metric)
            a, b = entry_of(st.table, "wce_balanced"), entry_of(st.table, "baseline")
            fam = family_values(st.table, metric not in LOWER_IS_BETTER)
            diff = float((fam[a] - fam[b]).mean()) if a and b and a != b else 0.0
            ce = f"{st.ranks[b]:.1f}" if b else "-"
            wce = f"{st.ranks[a]:.1f}" if a else "-"
            cols.append(f"CE {ce}, WCE {wce}, WCE - CE {diff:+.3f}; best `{st.ranks.index[0]}`")
        rows.append([metric, *cols])
    doc.table(["metric", "previous protocol", "this protocol"], rows)
