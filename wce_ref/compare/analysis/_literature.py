"""Every headline beside the literature: published findings (``literature.toml``) tested on a suite's store.

The claims, their sources and settings are data (``wce_ref/compare/analysis/literature.toml``); this module
computes each check's evidence from the store with the primary analysis over source families
(:mod:`._blocks`) and gives a verdict. A check is

- **confirmed** when the test agrees with the claim at the 0.05 level (Wilcoxon-Holm over families,
  a rank position, or a Bayesian decision at 0.95),
- **contradicted** when it disagrees at that level (a significant difference the other way, the
  claimed best ranked in the worse half, a decided practical difference where equivalence is claimed),
- **inconclusive** otherwise (the direction is stated with the evidence),
- **not testable** when the suite lacks its method, metric or dataset (the reason is stated).

A claim is confirmed (or contradicted) when every testable check is; ``partly`` when its checks
disagree or some are inconclusive; ``cannot test`` when none is testable.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._blocks import BlockStats, analyse_families, entry_of

LITERATURE = Path(__file__).with_name("literature.toml")
ALPHA = 0.05


@dataclass(frozen=True)
class Claim:
    id: str
    source: str
    setting: str
    finding: str
    checks: tuple[dict[str, Any], ...]


@dataclass
class CheckResult:
    text: str
    evidence: str
    verdict: str  # confirmed / contradicted / inconclusive / not testable (``pending`` until Holm's correction)
    p: float = float("nan")
    agrees: bool = False


@dataclass
class ClaimResult:
    claim: Claim
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        tested = [c.verdict for c in self.checks if c.verdict != "not testable"]
        if not tested:
            return "cannot test"
        if all(v == "confirmed" for v in tested):
            return "confirms"
        if all(v == "contradicted" for v in tested):
            return "contradicts"
        return "partly"


def claims(path: Path = LITERATURE) -> list[Claim]:
    """The published findings of ``literature.toml``."""
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    return [Claim(c["id"], c["source"], c["setting"], c["finding"], tuple(c["checks"])) for c in raw["claim"]]


def with_tuned(cells, method: str, metric: str):
    """``cells`` plus the pseudo-method ``X@tuned``: method X's cells scored at their tuned threshold."""
    import pandas as pd

    base = method.removesuffix("@tuned")
    col = f"{metric}@tuned"
    if not method.endswith("@tuned") or col not in cells.columns:
        return cells
    extra = cells[cells["method"] == base].assign(method=method)
    extra[metric] = extra[col]
    return pd.concat([cells, extra], ignore_index=True)


class Evidence:
    """Block statistics per metric, computed once, for the checks of every claim."""

    def __init__(self, cells, datasets) -> None:
        self.cells, self.datasets = cells, set(datasets)
        self.methods = set(cells["method"])
        self._cache: dict[tuple[str, str], BlockStats] = {}

    def stats(self, metric: str, extra: str = "") -> BlockStats:
        key = (metric, extra)
        if key not in self._cache:
            self._cache[key] = analyse_families(with_tuned(self.cells, extra, metric), metric)
        return self._cache[key]

    def missing(self, check: dict[str, Any]) -> str | None:
        """Why the check cannot be tested on this suite, or None."""
        names = [check.get("method"), check.get("than"), *check.get("methods", [])]
        names = [n.removesuffix("@tuned") for n in names if n]
        absent = [n for n in names if n not in self.methods]
        if check["kind"] in ("top", "top_within") and len(absent) < len(names):
            absent = []  # one of the named methods present is enough
        if absent:
            return f"the suite has no {', '.join(f'`{a}`' for a in absent)}"
        if check["metric"] not in self.cells.columns:
            return f"the suite does not record `{check['metric']}`"
        tuned = [n for n in (check.get("method"), check.get("than")) if n and n.endswith("@tuned")]
        if tuned and f"{check['metric']}@tuned" not in self.cells.columns:
            return "the suite does not tune decision thresholds (`tuned_threshold = false`)"
        lacking = [d for d in check.get("datasets", []) if d not in self.datasets]
        if lacking:
            return f"dataset {', '.join(f'`{d}`' for d in lacking)} is not in this suite (not available offline)"
        return None


def _pair(ev: Evidence, check: dict[str, Any]) -> CheckResult:
    m, than, metric, kind = check["method"], check["than"], check["metric"], check["kind"]
    st = ev.stats(metric, next((x for x in (m, than) if x.endswith("@tuned")), ""))
    a, b = entry_of(st.table, m), entry_of(st.table, than)
    text = f"`{m}` {kind} than `{than}` on {metric}"
    if a is None or b is None or a == b:
        same = a is not None and a == b
        why = "identical on every dataset (one entry)" if same else "not ranked (missing on most datasets)"
        return CheckResult(text, f"`{m}` and `{than}`: {why}", "contradicted" if same else "not testable")
    from ..methods._metrics import LOWER_IS_BETTER
    from ._blocks import family_values, paired

    if st.n_families < 2:
        return _one_dataset(ev, check, text)
    r = paired(family_values(st.table, metric not in LOWER_IS_BETTER), a, b, metric not in LOWER_IS_BETTER)
    evidence = (f"{r['mean_diff']:+.3f} mean difference; families won / tied / lost {r['wins']} / {r['ties']} / "
                f"{r['losses']} of {st.n_families}")  # fmt: skip
    res = CheckResult(text, evidence, "pending")
    res.p, res.agrees = r["p"], (r["wins"] > r["losses"]) == (kind == "better")
    return res


def corrected_t(diff, test_share: float) -> float:
    """Two-sided p of Nadeau & Bengio (2003)'s corrected resampled t-test of per-fold differences.

    .. math:: t = \\bar d / \\sqrt{(1/J + n_2/n_1)\\, s_d^2}

    with :math:`J` folds x repeats and :math:`n_2 / n_1` the test / training share; the correction accounts for
    the overlap of the training sets, which makes the plain t-test over folds far too liberal.

    >>> round(corrected_t([0.02, 0.03, 0.01, 0.04, 0.02], 0.25), 3)
    0.045
    """
    import numpy as np
    from scipy import stats

    d = np.asarray(diff, float)
    j, var = len(d), float(np.var(d, ddof=1)) if len(d) > 1 else 0.0
    if j < 2 or var == 0:
        return 1.0 if np.allclose(d, 0) else 0.0
    t = d.mean() / np.sqrt((1 / j + test_share / (1 - test_share)) * var)
    return float(2 * stats.t.sf(abs(t), j - 1))


def _one_dataset(ev: Evidence, check: dict[str, Any], text: str) -> CheckResult:
    """A claim about one dataset: the paired per-fold differences, Nadeau-Bengio's corrected t-test."""
    from ..methods._metrics import LOWER_IS_BETTER

    m, than, metric = check["method"], check["than"], check["metric"]
    keys = ["dataset", "repeat", "fold"]
    ok = ev.cells[ev.cells["status"] == "ok"]
    a = ok[ok["method"] == m].set_index(keys)[metric]
    b = ok[ok["method"] == than].set_index(keys)[metric]
    both = a.to_frame("a").join(b.to_frame("b"), how="inner").dropna()
    if len(both) < 2:
        return CheckResult(text, "fewer than 2 paired folds", "not testable")
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    diff = sign * (both["a"] - both["b"]).to_numpy()
    folds = int(ok["fold"].max()) + 1
    res = CheckResult(text, f"{(both['a'] - both['b']).mean():+.3f} mean difference over {len(both)} paired folds "
                            f"(means {both['a'].mean():.3f} vs {both['b'].mean():.3f}); corrected resampled t-test",
                      "pending")  # fmt: skip
    res.p, res.agrees = corrected_t(diff, 1 / folds), (diff.mean() > 0) == (check["kind"] == "better")
    return res


def _decide(results: list[ClaimResult]) -> None:
    """Holm-correct the paired checks of every claim together (one family of tests), then decide them."""
    from statsmodels.stats.multitest import multipletests

    pending = [c for r in results for c in r.checks if c.verdict == "pending"]
    if not pending:
        return
    holm = multipletests([c.p for c in pending], alpha=ALPHA, method="holm")[1]
    for c, p in zip(pending, holm, strict=True):
        c.evidence += f"; Wilcoxon p = {c.p:.2g}, Holm over the report's {len(pending)} paired checks p = {p:.2g}"
        if p < ALPHA:
            c.verdict = "confirmed" if c.agrees else "contradicted"
        else:
            c.evidence += " (not significant)"
            c.verdict = "inconclusive"


def _equivalent(ev: Evidence, check: dict[str, Any]) -> CheckResult:
    from ..methods._metrics import LOWER_IS_BETTER
    from ._bayes import DECISION_PROBABILITY, bayes_signed_rank
    from ._blocks import family_values

    m, than, metric = check["method"], check["than"], check["metric"]
    st = ev.stats(metric, next((x for x in (m, than) if x.endswith("@tuned")), ""))
    a, b = entry_of(st.table, m), entry_of(st.table, than)
    text = f"`{m}` practically equivalent to `{than}` on {metric} (ROPE 0.01)"
    if a is None or b is None:
        return CheckResult(text, "not ranked (missing on most datasets)", "not testable")
    if a == b:
        return CheckResult(text, "identical on every dataset", "confirmed")
    fam = family_values(st.table, metric not in LOWER_IS_BETTER)
    res = bayes_signed_rank(fam[a], fam[b], names=(m, than))
    evidence = (f"{res.mean_diff:+.3f} mean difference over {res.n_datasets} families; P({m} better) "
                f"{res.p_left:.2f}, P(equivalent) {res.p_rope:.2f}, P({than} better) {res.p_right:.2f}")  # fmt: skip
    if res.p_rope >= DECISION_PROBABILITY:
        return CheckResult(text, evidence, "confirmed")
    if max(res.p_left, res.p_right) >= DECISION_PROBABILITY:
        return CheckResult(text, evidence, "contradicted")
    return CheckResult(text, evidence, "inconclusive")


def _top(ev: Evidence, check: dict[str, Any]) -> CheckResult:
    metric, methods = check["metric"], check["methods"]
    st = ev.stats(metric)
    ranks = st.ranks
    among = check.get("among")
    if among is not None:
        entries = {e for x in among if (e := entry_of(st.table, x))}
        ranks = ranks[[e for e in ranks.index if e in entries]]
    k = check.get("k", 1)
    named = {e for x in methods if (e := entry_of(st.table, x))}
    top = list(ranks.index[:k])
    where = "of the named methods" if among is not None else "overall"
    text = (f"the best {'of ' + str(len(ranks)) + ' named methods' if among is not None else str(k) + ' mean ranks'}"
            f" on {metric} include {', '.join(f'`{x}`' for x in methods)}")  # fmt: skip
    positions = {e: list(ranks.index).index(e) + 1 for e in named if e in ranks.index}
    evidence = (f"best {where}: " + ", ".join(f"`{e}` ({ranks[e]:.1f})" for e in top) + "; named: "
                + ", ".join(f"`{e}` #{p} ({ranks[e]:.1f})" for e, p in sorted(positions.items(), key=lambda x: x[1]))
                + f"; {st.n_families} families")  # fmt: skip
    if not positions:
        return CheckResult(text, "none of the named methods is ranked", "not testable")
    best = min(positions.values())
    if best <= k:
        return CheckResult(text, evidence, "confirmed")
    if best > len(ranks) / 2:
        return CheckResult(text, evidence, "contradicted")
    return CheckResult(text, evidence, "inconclusive")


CHECKS = {"better": _pair, "worse": _pair, "equivalent": _equivalent, "top": _top, "top_within": _top}


def evaluate(cells, datasets, path: Path = LITERATURE) -> list[ClaimResult]:
    """Every claim of ``literature.toml`` tested on ``cells`` (finished cells with a ``method`` column)."""
    ev = Evidence(cells, datasets)
    out = []
    for claim in claims(path):
        res = ClaimResult(claim)
        for check in claim.checks:
            why = ev.missing(check)
            if why:
                res.checks.append(CheckResult(_describe(check), why, "not testable"))
                continue
            on = check.get("datasets")
            sub = Evidence(cells[cells["dataset"].isin(on)], on) if on else ev
            result = CHECKS[check["kind"]](sub, check)
            result.text += f" (on {', '.join(on)})" if on else ""
            res.checks.append(result)
        out.append(res)
    _decide(out)
    return out


def _describe(check: dict[str, Any]) -> str:
    on = f" (on {', '.join(check['datasets'])})" if check.get("datasets") else ""
    if "method" in check:
        return f"`{check['method']}` {check['kind']} than `{check['than']}` on {check['metric']}{on}"
    return f"{check['kind']} {', '.join(check['methods'])} on {check['metric']}{on}"
