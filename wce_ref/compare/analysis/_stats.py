"""Statistics across datasets: mean ranks, Friedman + Nemenyi (critical difference), Wilcoxon + Holm.

scipy.stats for the tests, scikit-posthocs for the Nemenyi p-values and the
critical-difference diagram, statsmodels for the Holm correction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


def with_methods(df):
    """Add a ``method`` column: the strategy, qualified by model/framework when the run has several.

    Reference strategies (model ``reference``: their own estimator) are never qualified.
    """
    from ..methods._strategies import REFERENCE_MODEL

    df = df.copy()
    reference = df["model"] == REFERENCE_MODEL
    combos = df.loc[~reference, ["model", "framework"]].drop_duplicates()
    if len(combos) <= 1:
        df["method"] = df["strategy"]
    else:
        df["method"] = df["strategy"].where(
            reference, df["strategy"] + " (" + df["model"] + "/" + df["framework"] + ")"
        )
    return df


def fold_means(df, metric: str):
    """Datasets x methods: mean of ``metric`` over the stored folds and repeats (NaN where a method has none)."""
    wide = df.pivot_table(index="dataset", columns="method", values=metric, aggfunc="mean")
    return wide


def complete(wide):
    """Drop datasets where some method has no result (a failed cell), returning the dropped names."""
    mask = wide.notna().all(axis=1)
    return wide[mask], list(wide.index[~mask])


def mean_ranks(wide, higher_is_better: bool = True):
    """Rank 1 = best (highest, or lowest for a loss) per dataset, ties get the average rank; mean over datasets."""
    return wide.rank(axis=1, ascending=not higher_is_better, method="average").mean(axis=0).sort_values()


def critical_difference(k: int, n: int, alpha: float = 0.05) -> float:
    """Nemenyi CD = q_alpha * sqrt(k (k + 1) / (6 N)), q_alpha = studentized range quantile / sqrt(2)."""
    from scipy.stats import studentized_range

    q = studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6.0 * n)))


@dataclass
class MetricStats:
    metric: str
    ranks: Any  # Series method -> mean rank
    n_datasets: int
    friedman_stat: float | None
    friedman_p: float | None
    cd: float | None
    nemenyi: Any | None  # DataFrame of p-values
    wilcoxon: Any | None  # DataFrame: method, control, W, p, p_holm, wins/ties/losses
    dropped: list[str]


def analyse(df, metric: str, controls=("baseline", "wce_balanced"), alpha: float = 0.05) -> MetricStats:
    """Ranks, Friedman + Nemenyi and Wilcoxon-Holm against ``controls`` for one metric.

    Calibration metrics (:data:`~wce_ref.compare.methods._metrics.LOWER_IS_BETTER`) rank
    the lowest value first, and a "win" is a lower value than the control's.
    """
    from scipy import stats

    from ..methods._metrics import LOWER_IS_BETTER

    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    wide, dropped = complete(fold_means(df, metric))
    n, k = wide.shape
    ranks = mean_ranks(wide, higher_is_better=sign > 0) if n else wide.mean()
    fr_stat = fr_p = cd = None
    nemenyi = wil = None
    if n >= 2 and k >= 3:
        res = stats.friedmanchisquare(*[wide[c].to_numpy() for c in wide.columns])
        fr_stat, fr_p = float(res.statistic), float(res.pvalue)
        cd = critical_difference(k, n, alpha)
        import scikit_posthocs as sp

        nemenyi = sp.posthoc_nemenyi_friedman(wide.to_numpy())
        nemenyi.index = nemenyi.columns = list(wide.columns)
    if n >= 2 and k >= 2:
        import pandas as pd
        from statsmodels.stats.multitest import multipletests

        rows = []
        for control in [c for c in controls if c in wide.columns]:
            for m in wide.columns:
                if m == control:
                    continue
                raw = wide[m] - wide[control]
                diff = sign * raw  # > 0: better than the control
                if np.allclose(diff, 0):
                    w_stat, p = float("nan"), 1.0
                else:
                    r = stats.wilcoxon(wide[m], wide[control], zero_method="zsplit")
                    w_stat, p = float(r.statistic), float(r.pvalue)
                rows.append(
                    {
                        "method": m,
                        "control": control,
                        "W": w_stat,
                        "p": p,
                        "wins": int((diff > 0).sum()),
                        "ties": int((diff == 0).sum()),
                        "losses": int((diff < 0).sum()),
                        "mean_diff": float(raw.mean()),
                    }
                )
        wil = pd.DataFrame(rows)
        if len(wil):
            wil["p_holm"] = np.nan
            for _control, idx in wil.groupby("control").groups.items():
                wil.loc[idx, "p_holm"] = multipletests(wil.loc[idx, "p"], alpha=alpha, method="holm")[1]
    return MetricStats(metric, ranks, n, fr_stat, fr_p, cd, nemenyi, wil, dropped)


def cd_diagram(st: MetricStats, path, alpha: float = 0.05) -> bool:
    """The critical-difference diagram (scikit-posthocs), saved to ``path``; False when not computable."""
    if st.nemenyi is None:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import scikit_posthocs as sp

    from ..._report import save_png

    fig, ax = plt.subplots(figsize=(10, 0.28 * len(st.ranks) + 1.6))
    drawn = sp.critical_difference_diagram(st.ranks, st.nemenyi, ax=ax, alpha=alpha, cd=st.cd)
    for line in (x for bar in drawn.get("crossbars", []) for x in bar):
        # scikit-posthocs draws a crossbar through its methods in set order, which the hash seed changes: the same
        # line, other bytes in the PNG; drawn left to right it is the same in every process
        xs, ys = line.get_data()
        line.set_data(sorted(xs), ys)
    _lift_cd_bar(ax)
    blocks = f"{st.n_families} source families" if hasattr(st, "n_families") else f"{st.n_datasets} datasets"
    ax.set_title(
        f"{st.metric}: mean rank over {blocks} (Friedman p = {st.friedman_p:.2g}, Nemenyi CD = {st.cd:.2f})",
        fontsize=10,
    )
    fig.tight_layout()
    save_png(fig, path, dpi=110)
    plt.close(fig)
    return True


def _lift_cd_bar(ax) -> None:
    """Move scikit-posthocs' "CD = x" bar and label above the rank axis's tick labels (they overlapped)."""
    for text in ax.texts:
        if text.get_text().startswith("CD = "):
            text.set_y(1.9)
    for line in ax.lines:
        y = line.get_ydata()
        if len(y) == 2 and y[0] == y[1] == 0.5:
            line.set_ydata([1.6, 1.6])
    bottom, top = ax.get_ylim()
    ax.set_ylim(bottom, max(top, 2.4))

