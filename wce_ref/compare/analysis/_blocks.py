"""The primary analysis of a suite: source families as blocks, rounded values, merged ties, failed cells last.

Demšar (JMLR 2006)'s Friedman / Nemenyi and Wilcoxon tests assume independent data sets, but most
tasks of the imbalanced collections are cut from a few sources (20 KEEL tasks from ``ecoli`` ...).
Here every statistic is computed over **families** (:attr:`wce_ref.datasets.DatasetInfo.family`):

1. a method's value on a dataset is the mean over its folds and repeats, rounded to ``PRECISION``
   decimals (differences below that are floating-point noise, not evidence); a dataset that another
   collection publishes too (``duplicate_of``) is counted once;
2. a method with a failed or inapplicable cell on a dataset has no value there: it ranks last on that
   dataset, and value comparisons use the worst value any method reached there (a failure never helps
   the method that failed); a method without a value on more than half of the datasets is left out of
   the ranks and listed;
3. methods with identical (rounded) values on every dataset are one entry, named together;
4. ranks are computed per dataset (1 = best, ties averaged), averaged within each family, and ranked
   again within the family: the family is the block of Friedman's test, Nemenyi's critical difference
   and the mean ranks; Wilcoxon signed-rank tests (Holm-corrected) compare family means of the values.

The per-dataset analysis (:func:`wce_ref.compare.analysis._stats.analyse`) stays as the secondary view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: decimals every metric value is rounded to before ranking and testing
PRECISION = 3

#: a method without a value on more than this share of the datasets is not ranked
MAX_MISSING_SHARE = 0.5


def dataset_families(datasets) -> dict[str, str]:
    from ... import datasets as _ds

    out = {}
    for d in datasets:
        try:
            out[d] = _ds.info(d).family
        except (KeyError, ValueError):  # an unregistered name (a user file not registered in this process)
            out[d] = d
    return out


def duplicated(datasets) -> list[str]:
    """The datasets counted in another's place: their ``duplicate_of`` is in the table too."""
    from ... import datasets as _ds

    present, out = set(datasets), []
    for d in datasets:
        try:
            dup = _ds.info(d).duplicate_of
        except (KeyError, ValueError):
            continue
        if dup and dup in present:
            out.append(d)
    return out


@dataclass
class Table:
    """Datasets x methods of one metric, ready for block statistics.

    ``values``: rounded means (NaN = the method failed or could not act there); ``family``: dataset ->
    family; ``merged``: entry name -> the methods it stands for; ``unranked``: method -> datasets missing;
    ``duplicates``: datasets dropped as the same task as another.
    """

    metric: str
    values: Any
    family: dict[str, str]
    merged: dict[str, list[str]] = field(default_factory=dict)
    unranked: dict[str, int] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)


def table(cells, metric: str, precision: int = PRECISION) -> Table:
    """The datasets x methods table of ``metric`` from every finished cell (``ok``, failed, inapplicable).

    ``cells`` has ``dataset``, ``method``, ``status`` and the metric's column.
    """
    ok = cells[cells["status"] == "ok"]
    means = ok.pivot_table(index="dataset", columns="method", values=metric, aggfunc="mean")
    bad = cells[cells["status"] != "ok"][["dataset", "method"]].drop_duplicates()
    means = means.reindex(index=sorted(set(cells["dataset"])), columns=sorted(set(cells["method"])))
    for d, m in bad.itertuples(index=False):
        means.loc[d, m] = np.nan
    dups = duplicated(means.index)
    means = means.drop(index=dups).round(precision)
    missing = means.isna().sum()
    unranked = {m: int(n) for m, n in missing.items() if n > MAX_MISSING_SHARE * len(means)}
    means = means.drop(columns=list(unranked))
    means = means.dropna(how="all")  # a dataset where no method has the metric (a long-tail group without class)
    means, merged = merge_identical(means)
    return Table(metric, means, dataset_families(means.index), merged, unranked, dups)


def merge_identical(values) -> tuple[Any, dict[str, list[str]]]:
    """Columns equal on every row (NaN equal to NaN) become one, named ``a = b``."""
    groups: dict[tuple, list[str]] = {}
    for m in values.columns:
        groups.setdefault(tuple(values[m].fillna(np.inf).tolist()), []).append(m)
    merged = {" = ".join(ms): ms for ms in groups.values() if len(ms) > 1}
    keep = {ms[0]: " = ".join(ms) for ms in groups.values()}
    out = values[list(keep)].rename(columns=keep)
    return out, merged


def dataset_ranks(values, higher_is_better: bool) -> Any:
    """Per-dataset ranks, 1 = best, ties averaged; a missing value ranks last (ties among the missing)."""
    return values.rank(axis=1, ascending=not higher_is_better, method="average", na_option="bottom")


def family_ranks(t: Table, higher_is_better: bool) -> Any:
    """Families x methods: the mean of the datasets' ranks within each family, ranked again within it."""
    ranks = dataset_ranks(t.values, higher_is_better)
    within = ranks.groupby(lambda d: t.family[d]).mean()
    return within.rank(axis=1, ascending=True, method="average")


def family_values(t: Table, higher_is_better: bool) -> Any:
    """Families x methods: the mean over the family's datasets, a missing value replaced by the dataset's worst."""
    worst = t.values.min(axis=1) if higher_is_better else t.values.max(axis=1)
    filled = t.values.apply(lambda col: col.fillna(worst))
    return filled.groupby(lambda d: t.family[d]).mean()


@dataclass
class BlockStats:
    """One metric's primary analysis: mean ranks over families, Friedman, Nemenyi, Wilcoxon-Holm."""

    metric: str
    ranks: Any  # Series entry -> mean rank over families
    n_datasets: int
    n_families: int
    friedman_stat: float | None
    friedman_p: float | None
    cd: float | None
    nemenyi: Any | None
    wilcoxon: Any | None  # DataFrame: method, control, wins / ties / losses over families, mean diff, p, p_holm
    table: Table

    @property
    def dropped(self) -> list[str]:  # the secondary view's attribute, for shared report code
        return []


def analyse_families(cells, metric: str, controls=("baseline", "wce_balanced"), alpha: float = 0.05) -> BlockStats:
    """The primary analysis of ``metric`` over families (see the module's docstring)."""
    from scipy import stats

    from ..methods._metrics import LOWER_IS_BETTER
    from ._stats import critical_difference

    higher = metric not in LOWER_IS_BETTER
    t = table(cells, metric)
    fr = family_ranks(t, higher)
    n, k = fr.shape
    ranks = fr.mean().sort_values()
    fr_stat = fr_p = cd = nemenyi = None
    if n >= 2 and k >= 3:
        res = stats.friedmanchisquare(*[fr[c].to_numpy() for c in fr.columns])
        fr_stat, fr_p = float(res.statistic), float(res.pvalue)
        fr_p = fr_p if math.isfinite(fr_p) else 1.0  # identical ranks in every block: no evidence at all
        cd = critical_difference(k, n, alpha)
        import scikit_posthocs as sp

        nemenyi = sp.posthoc_nemenyi_friedman(fr.to_numpy())
        nemenyi.index = nemenyi.columns = list(fr.columns)
    wil = _wilcoxon(family_values(t, higher), controls, higher, alpha) if n >= 2 else None
    return BlockStats(metric, ranks, len(t.values), n, fr_stat, fr_p, cd, nemenyi, wil, t)


def entry_of(t: Table, method: str) -> str | None:
    """The table's entry that stands for ``method`` (itself, or the merged entry naming it), or None."""
    if method in t.values.columns:
        return method
    return next((e for e, ms in t.merged.items() if method in ms), None)


def paired(fam, method: str, control: str, higher: bool) -> dict[str, Any]:
    """Wilcoxon signed-rank test of two entries' family values: wins / ties / losses of ``method`` (in the
    metric's better direction), the mean difference ``method - control`` and the (uncorrected) p-value."""
    from scipy import stats

    raw = fam[method] - fam[control]
    diff = (1.0 if higher else -1.0) * raw.round(PRECISION + 3)
    p = 1.0 if np.allclose(diff, 0) else float(stats.wilcoxon(fam[method], fam[control], zero_method="zsplit").pvalue)
    return {"method": method, "control": control, "wins": int((diff > 0).sum()), "ties": int((diff == 0).sum()),
            "losses": int((diff < 0).sum()), "mean_diff": float(raw.mean()), "p": p}  # fmt: skip


def _wilcoxon(fam, controls, higher: bool, alpha: float):
    import pandas as pd
    from statsmodels.stats.multitest import multipletests

    rows = []
    for control in controls:
        col = next((c for c in fam.columns if control in c.split(" = ")), None)
        if col is None:
            continue
        rows += [paired(fam, m, col, higher) for m in fam.columns if m != col]
    wil = pd.DataFrame(rows)
    if len(wil):
        wil["p_holm"] = np.nan
        for _control, idx in wil.groupby("control").groups.items():
            wil.loc[idx, "p_holm"] = multipletests(wil.loc[idx, "p"], alpha=alpha, method="holm")[1]
    return wil
