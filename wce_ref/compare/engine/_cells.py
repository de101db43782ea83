"""Cells, the unit of work of a suite: one (dataset, strategy, model, framework, repeat, fold), built once
here as a named record and handed to the method that runs it (:func:`wce_ref.compare.run_cell`), the executors
(:mod:`._execute`) and the store (its :meth:`Cell.key`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from ._suite import Suite, Training


@dataclass(frozen=True)
class Cell:
    config_hash: str
    suite: str
    dataset: str
    strategy: str
    model: str
    framework: str
    repeat: int
    fold: int
    seed: int
    folds: int
    repeats: int
    metrics: tuple[str, ...]
    training: Training
    split_seed: int
    task: str = "binary"
    costs: tuple[tuple[float, ...], ...] | None = None  # the suite's [costs] matrix for the dataset
    priors: tuple[float, ...] | None = None  # the suite's [priors] for the dataset
    inner_folds: int = 0  # > 0: also score with the threshold tuned on the training folds (binary cells)
    file: Any = None  # the user file (a DatasetFile) the dataset is read from, registered again in a worker

    def key(self) -> tuple:
        return (
            self.config_hash,
            self.dataset,
            self.strategy,
            self.model,
            self.framework,
            self.repeat,
            self.fold,
            self.seed,
        )


def _stable_seed(*parts: Any) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:4], "little")


def _targets(suite: Suite, strategy: str, task: str):
    """(model, framework, reference?) of one strategy on a dataset of ``task``: the reference methods once, in
    place of the models; ``sklearn_lr`` for the strategies it can express and the suite checks."""
    from ..methods._strategies import REFERENCE_FRAMEWORK, REFERENCE_MODEL, STRATEGIES

    spec = STRATEGIES[strategy]
    if not spec.supports_task(task):
        return
    reference = spec.estimator is not None
    models = (REFERENCE_MODEL,) if reference else suite.models
    if strategy in suite.check_strategies and "sklearn_lr" not in models:
        models = (*models, "sklearn_lr")
    for model in models:
        if not spec.supports(model):
            continue
        fws = (REFERENCE_FRAMEWORK,) if reference else ("sklearn",) if model == "sklearn_lr" else suite.frameworks
        for fw in fws:
            yield model, fw, reference


def cells(suite: Suite) -> list[Cell]:
    """Every (dataset, strategy, model, framework, repeat, fold) of the suite.

    The model seed depends on (seed, dataset, repeat, fold) only, so all
    strategies see the same split, initialisation and validation split: paired
    comparisons. ``sklearn_lr`` runs once (framework ``sklearn``) and only for
    the strategies it can express; a strategy runs only on datasets of a task
    it supports. A long-tailed dataset has a fixed, balanced test part: one
    cell per repeat (fold 0), trained on the long-tailed training part with a
    model seed that varies with the repeat.
    """
    out = []
    p = suite.protocol
    costs, priors = dict(suite.costs), dict(suite.priors)
    files = {f.name: f for f in suite.files}
    for dataset in suite.datasets:
        task = suite.task(dataset)
        folds = 1 if task == "longtail" else p.folds
        shared = dict(suite=suite.name, dataset=dataset, folds=p.folds, repeats=p.repeats,
                      metrics=suite.metrics_for(dataset), training=suite.training,
                      split_seed=_stable_seed(p.seed, dataset) % (2**31), task=task, costs=costs.get(dataset),
                      priors=priors.get(dataset), file=files.get(dataset),
                      inner_folds=p.inner_folds if p.tuned_threshold and task == "binary" else 0)  # fmt: skip
        for strategy in suite.strategies:
            for model, fw, reference in _targets(suite, strategy, task):
                for r in range(p.repeats):
                    out += [Cell(config_hash=suite.config_hash(reference=reference), strategy=strategy, model=model,
                                 framework=fw, repeat=r, fold=f, seed=_stable_seed(p.seed, dataset, r, f), **shared)
                            for f in range(folds)]  # fmt: skip
    return out
