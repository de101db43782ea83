"""Suites: named configurations (datasets x strategies x models x frameworks x protocol) in TOML files.

Suite files live in ``suites/`` at the project root (``suites/default.toml``
...); ``wce compare PATH.toml`` takes any file. Everything is validated before
any work starts.

Keys: ``datasets`` (names, selectors such as ``"offline:multiclass"`` that
follow the registry, and exclusions ``"-name"``; a selected dataset whose
smallest class is smaller than the number of folds is skipped with its
reason, a named one is an error), ``strategies`` (``"all"``: those that
support the datasets' tasks; a named strategy must support every dataset's
task), ``models``, ``frameworks``, ``metrics`` (``"all"``: those of the
datasets' tasks), ``[protocol]``, ``[training]``, ``[published]``,
``[costs]`` (``dataset = C x C cost matrix``, ``cost[true, predicted]``, for
the ``cost_matrix`` strategy) and ``[priors]`` (``dataset = C target
priors`` for ``prior_correction``). A matrix or a prior of the wrong size is
an error naming ``costs.<dataset>`` / ``priors.<dataset>``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ... import datasets as _datasets
from ... import frameworks as _fw
from ..methods._metrics import METRICS, metric_names
from ..methods._strategies import STRATEGIES, task_of
from ._files import DatasetFile, read_dataset_file

MODELS = {"linear": (), "mlp": (32,), "sklearn_lr": None}
SUITES_ENV = "WCE_SUITES"
LIST_KEYS = ("datasets", "strategies", "models", "frameworks", "metrics")
#: dataset selectors of the ``datasets`` key: every entry available without a download, of one task
SELECTORS = {"offline": "binary", "offline:binary": "binary", "offline:multiclass": "multiclass",
             "offline:longtail": "longtail"}  # fmt: skip


def dataset_task(name: str) -> str:
    """A registered dataset's task (``binary`` for entries registered before tasks existed)."""
    return getattr(_datasets.info(name), "task", "binary")


class SuiteError(ValueError):
    """A suite configuration that cannot run; raised before any work starts."""


@dataclass(frozen=True)
class Protocol:
    """Outer folds x repeats and their seed; ``tuned_threshold``: also score every binary cell with its
    decision threshold tuned on the training folds (``inner_folds`` stratified inner folds, balanced accuracy)."""

    folds: int = 5
    repeats: int = 3
    seed: int = 0
    tuned_threshold: bool = False
    inner_folds: int = 3


@dataclass(frozen=True)
class Training:
    """How the suite's models are trained (:class:`~._models.WCEClassifier`).

    ``solver``: ``auto`` trains a linear model to its optimum with L-BFGS (gradient tolerance ``tol``,
    at most ``max_iter`` iterations) and an MLP with Adam (``lr``, at most ``max_epochs``, early stopping
    with ``patience`` on the plain cross entropy of a stratified ``validation_fraction`` held out before
    any resampling); ``adam`` uses Adam for both. ``l2`` is the penalty on the weight matrices. Where a
    class is too small to hold validation rows out, Adam stops when its training objective no longer
    improves (``no_validation_stop = "training_loss"``) or runs to its cap (``"cap"``, the rule before).
    """

    lr: float = 0.05
    max_epochs: int = 300
    patience: int = 8
    l2: float = 1e-4
    validation_fraction: float = 0.1
    solver: str = "auto"
    tol: float = 1e-6
    max_iter: int = 10000
    no_validation_stop: str = "training_loss"


#: earlier settings under which a *converged* cell is the same computation as now: a larger iteration cap
#: never changes a run that stopped before the old one, and the stopping rule without validation rows only
#: changes cells that had none (never converged under ``"cap"``); such cells carry over (``carried_hashes``)
_EARLIER_TRAINING = ({"max_iter": 1000, "no_validation_stop": "cap"},)

#: the fields of :class:`Training` before the solver existed: reference methods' cells, which never train a
#: model of ours, keep hashing them alone, so their results from earlier stores are still found
_LEGACY_TRAINING = ("lr", "max_epochs", "patience", "l2", "validation_fraction")


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    datasets: tuple[str, ...]
    strategies: tuple[str, ...]
    models: tuple[str, ...]
    frameworks: tuple[str, ...]
    metrics: tuple[str, ...]
    protocol: Protocol = field(default_factory=Protocol)
    training: Training = field(default_factory=Training)
    published: dict[str, Any] = field(default_factory=dict)
    skipped: tuple[tuple[str, str], ...] = ()  # (dataset, reason) of unavailable datasets
    selected: tuple[str, ...] = ()  # datasets chosen by a selector: skipped (not an error) when folds cannot split them
    costs: tuple[tuple[str, tuple[tuple[float, ...], ...]], ...] = ()  # [costs]: dataset -> (C, C) cost matrix
    priors: tuple[tuple[str, tuple[float, ...]], ...] = ()  # [priors]: dataset -> C target priors
    files: tuple[DatasetFile, ...] = ()  # user files (--dataset-file, [[dataset_files]]), registered as datasets
    offline_hint: str = ""  # added to the reason a dataset is unavailable (e.g. how to run on a downloaded copy)
    #: strategies also run with scikit-learn's LogisticRegression at the linear model's penalty (model
    #: ``sklearn_lr``), whatever ``models`` says: the check that the linear cells reached the optimum
    check_strategies: tuple[str, ...] = ()

    def config_hash(self, *, reference: bool = False) -> str:
        """Identifies results that are comparable: protocol, training, and the suite's costs and priors.

        Suites without ``[costs]`` / ``[priors]`` hash as before those tables existed, so their stores load.
        ``reference=True``: the hash of the reference methods' cells, which hashes only the training fields
        that existed before the solver (their estimators do not use them; older stores' cells still match).
        """
        protocol = asdict(self.protocol)
        if not self.protocol.tuned_threshold:  # suites without it hash as before it existed
            del protocol["tuned_threshold"], protocol["inner_folds"]
        training = asdict(self.training)
        if training["no_validation_stop"] == "cap":  # the rule before the field existed hashes as then
            del training["no_validation_stop"]
        if reference:
            training = {k: training[k] for k in _LEGACY_TRAINING}
        config: dict[str, Any] = {"protocol": protocol, "training": training}
        if self.costs:
            config["costs"] = [[d, [list(r) for r in m]] for d, m in self.costs]
        if self.priors:
            config["priors"] = [[d, list(p)] for d, p in self.priors]
        if self.files:  # a changed file is a new configuration: its old results never resume
            config["files"] = [[f.name, f.sha256] for f in self.files]
        blob = json.dumps(config, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def carried_hashes(self) -> dict[str, str]:
        """Earlier configurations' hashes whose converged cells are this configuration's (old -> current).

        Only settings in :data:`_EARLIER_TRAINING` with a cap no larger than this suite's qualify: a
        converged cell never reached the old cap, so the same computation gives the same result.
        """
        out = {}
        for earlier in _EARLIER_TRAINING:
            if self.training.max_iter < earlier["max_iter"]:
                continue
            old = replace(self, training=replace(self.training, **earlier)).config_hash()
            if old != self.config_hash():
                out[old] = self.config_hash()
        return out

    def config_hashes(self) -> tuple[str, ...]:
        """The suite's hashes: its trained cells' first, then its reference methods' (when they differ)."""
        return tuple(dict.fromkeys((self.config_hash(), self.config_hash(reference=True))))

    def task(self, dataset: str) -> str:
        """The dataset's task (``binary``, ``multiclass``, ``longtail``) from the registry."""
        return dataset_task(dataset)

    def metrics_for(self, dataset: str) -> tuple[str, ...]:
        """The suite's metrics that apply to the dataset's task."""
        applicable = metric_names(self.task(dataset))
        return tuple(m for m in self.metrics if m in applicable)


def suite_dirs() -> list[Path]:
    env = os.environ.get(SUITES_ENV)
    if env:
        return [Path(p) for p in env.split(os.pathsep) if p]
    here = Path(__file__).resolve().parents[3] / "suites"
    return [Path.cwd() / "suites", here]


def find_suite(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.is_dir():
        raise SuiteError(f"suite: {name_or_path!r} is a directory; give a suite name or a .toml file")
    if p.suffix == ".toml":
        if not p.exists():
            raise SuiteError(f"suite: no such file {name_or_path!r}")
        return p
    for d in suite_dirs():
        if (d / f"{name_or_path}.toml").exists():
            return d / f"{name_or_path}.toml"
    known = sorted({f.stem for d in suite_dirs() if d.is_dir() for f in d.glob("*.toml")})
    raise SuiteError(f"suite: unknown suite {name_or_path!r}; known: {', '.join(known) or 'none found'}")


def _names(value: Any, universe, what: str, *, field_name: str) -> tuple[str, ...]:
    if value == "all":
        return tuple(universe)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise SuiteError(f"{field_name}: expected a non-empty list of names or 'all', got {value!r}")
    unknown = [v for v in value if v not in universe]
    if unknown:
        raise SuiteError(f"{field_name}: unknown {what} {unknown}; known: {', '.join(universe)}")
    return tuple(value)


def _select(selector: str) -> list[str]:
    """The registered datasets of a selector's task that are available without a download."""
    task = SELECTORS[selector]
    return [
        n
        for n, i in _datasets.registry().items()
        if getattr(i, "task", "binary") == task and i.availability() == "offline"
    ]


def _dataset_names(value: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The suite's datasets and those of them chosen by a selector.

    Entries are names, selectors (``offline``: the binary ones, ``offline:multiclass`` ...) and
    exclusions (``-name``, applied last), kept in order, once each.
    """
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise SuiteError(
            f"datasets: expected a non-empty list of names or selectors ({', '.join(SELECTORS)}), got {value!r}"
        )
    named: list[str] = []
    selected: list[str] = []
    for n in value:
        if n in SELECTORS:
            selected += _select(n)
            continue
        try:
            _datasets.info(n.removeprefix("-"))
        except KeyError as exc:
            raise SuiteError(f"datasets: {exc}") from exc
        named.append(n)
    drop = {n[1:] for n in named if n.startswith("-")}
    out = [n for n in dict.fromkeys([*named, *selected]) if not n.startswith("-") and n not in drop]
    if not out:
        raise SuiteError(f"datasets: {value!r} selects no dataset")
    chosen = set(selected) - set(named)
    return tuple(out), tuple(n for n in out if n in chosen)


def _check_tasks(datasets: tuple[str, ...], strategies: tuple[str, ...], explicit: bool) -> tuple[str, ...]:
    """Every strategy asked for by name must support every dataset's task; ``'all'`` keeps those that apply."""
    tasks = {d: task_of(dataset_task(d)) for d in datasets}
    if not explicit:
        return tuple(s for s in strategies if any(STRATEGIES[s].supports_task(t) for t in tasks.values()))
    for s in strategies:
        bad = [d for d, t in tasks.items() if not STRATEGIES[s].supports_task(t)]
        if bad:
            raise SuiteError(
                f"strategies: {s!r} supports {' and '.join(STRATEGIES[s].tasks)} datasets only, but "
                f"{', '.join(repr(d) for d in bad[:5])} {'is' if len(bad) == 1 else 'are'} "
                f"{tasks[bad[0]]}; remove it or those datasets"
            )
    return strategies


def _metric_names(value: Any, datasets: tuple[str, ...]) -> tuple[str, ...]:
    """``metrics``: ``'all'`` is every metric of the suite's tasks; a named one must apply to some dataset."""
    applicable = {m for d in datasets for m in metric_names(dataset_task(d))}
    if value == "all":
        return tuple(m for m in METRICS if m in applicable)
    names = _names(value, METRICS, "metric", field_name="metrics")
    useless = [m for m in names if m not in applicable]
    if useless:
        tasks = sorted({dataset_task(d) for d in datasets})
        raise SuiteError(f"metrics: {useless} apply to none of the suite's datasets (tasks: {', '.join(tasks)})")
    return names


def _numbers(key: str, value: Any, shape: tuple[int, ...], *, positive: bool) -> tuple:
    """A nested list of finite numbers of ``shape`` (non-negative, or positive), or a SuiteError naming ``key``."""
    import numpy as np

    want = " x ".join(map(str, shape))
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise SuiteError(f"{key}: expected {want} numbers; received {value!r}") from None
    if arr.shape != shape:
        got = " x ".join(map(str, arr.shape)) or "a scalar"
        raise SuiteError(f"{key}: expected {want} numbers (the dataset has {shape[0]} classes); received {got}")
    if isinstance(value, bool) or not np.all(np.isfinite(arr)) or np.any(arr <= 0 if positive else arr < 0):
        sign = "positive" if positive else "non-negative"
        raise SuiteError(f"{key}: expected finite {sign} numbers; received {value!r}")
    return tuple(map(tuple, arr.tolist())) if arr.ndim == 2 else tuple(arr.tolist())


def _per_dataset(raw: dict[str, Any], key: str, datasets: tuple[str, ...], matrix: bool):
    """``[costs]`` (dataset -> C x C cost matrix) or ``[priors]`` (dataset -> C target priors)."""
    table = raw.get(key, {})
    if not isinstance(table, dict):
        raise SuiteError(f"{key} must be a table ([{key}]) of dataset = numbers; received {table!r}")
    out = []
    for d, value in table.items():
        if d not in datasets:
            raise SuiteError(f"{key}.{d}: {d!r} is not one of the suite's datasets")
        c = _datasets.info(d).n_classes if hasattr(_datasets.info(d), "n_classes") else 2
        out.append((d, _numbers(f"{key}.{d}", value, (c, c) if matrix else (c,), positive=not matrix)))
    return tuple(out)


@dataclass(frozen=True)
class _Flag:
    """A true / false key."""

    def check(self, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise SuiteError(f"{key} must be true or false; received {type(value).__name__} {value!r}")
        return value


@dataclass(frozen=True)
class _Choice:
    """A key that takes one of a few names."""

    names: tuple[str, ...]

    def check(self, key: str, value: Any) -> str:
        if value not in self.names:
            raise SuiteError(f"{key} must be one of {', '.join(map(repr, self.names))}; received {value!r}")
        return value


@dataclass(frozen=True)
class _Range:
    """The type and range of one numeric key of ``[protocol]`` or ``[training]``."""

    integer: bool
    low: float
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a number"
        if math.isinf(self.high):
            return f"{kind} {'>' if self.low_open else '>='} {self.low:g}"
        return f"{kind} in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"

    def check(self, key: str, value: Any) -> int | float:
        ok_type = isinstance(value, int) if self.integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok_type or (isinstance(value, float) and not math.isfinite(value)):
            raise SuiteError(f"{key} must be {self.describe()}; received {type(value).__name__} {value!r}")
        too_low = value <= self.low if self.low_open else value < self.low
        too_high = value >= self.high if self.high_open else value > self.high
        if too_low or too_high:
            raise SuiteError(f"{key} must be {self.describe()}; received {value!r}")
        return value


#: every key of ``[protocol]`` and ``[training]`` with its type and range
KEYS: dict[str, dict[str, _Range | _Flag | _Choice]] = {
    "protocol": {
        "folds": _Range(True, 2),
        "repeats": _Range(True, 1),
        "seed": _Range(True, 0),
        "tuned_threshold": _Flag(),
        "inner_folds": _Range(True, 2, 10),
    },
    "training": {
        "lr": _Range(False, 0, low_open=True),
        "max_epochs": _Range(True, 1),
        "patience": _Range(True, 1),
        "l2": _Range(False, 0),
        "validation_fraction": _Range(False, 0, 1, high_open=True),
        "solver": _Choice(("auto", "lbfgs", "adam")),
        "tol": _Range(False, 0, low_open=True),
        "max_iter": _Range(True, 1),
        "no_validation_stop": _Choice(("training_loss", "cap")),
    },
}


def _table(raw: dict[str, Any], name: str) -> dict[str, Any]:
    """``[protocol]`` or ``[training]``: a table of known keys, each of its type and range."""
    table = raw.get(name, {})
    if not isinstance(table, dict):
        raise SuiteError(f"{name} must be a table ([{name}]); received {type(table).__name__} {table!r}")
    unknown = sorted(set(table) - set(KEYS[name]))
    if unknown:
        raise SuiteError(f"{name}: unknown key(s) {unknown}; known: {', '.join(KEYS[name])}")
    return {k: KEYS[name][k].check(f"{name}.{k}", v) for k, v in table.items()}


def _published(value: Any) -> dict[str, Any]:
    """``[published]``: ``citation`` (text), ``metrics`` (names), ``results.<method>.<metric>`` (numbers)."""
    if not isinstance(value, dict):
        raise SuiteError(f"published must be a table ([published]); received {type(value).__name__} {value!r}")
    unknown = sorted(set(value) - {"citation", "metrics", "results"})
    if unknown:
        raise SuiteError(f"published: unknown key(s) {unknown}; known: citation, metrics, results")
    if not isinstance(value.get("citation", ""), str):
        raise SuiteError(f"published.citation must be text; received {value['citation']!r}")
    metrics = _names(value.get("metrics", "all"), METRICS, "metric", field_name="published.metrics")
    results = value.get("results", {})
    if not isinstance(results, dict):
        raise SuiteError(f"published.results must be a table of methods; received {results!r}")
    for method, figures in results.items():
        where = f"published.results.{method}"
        if not isinstance(figures, dict):
            raise SuiteError(f"{where} must be a table of metric = number; received {figures!r}")
        for metric, number in figures.items():
            if metric not in metrics:
                raise SuiteError(f"{where}.{metric}: not one of published.metrics {list(metrics)}")
            if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
                raise SuiteError(f"{where}.{metric} must be a finite number; received {number!r}")
    return value


def _read(path: Path) -> dict[str, Any]:
    """The suite file's TOML, or a :class:`SuiteError` naming the file."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"suite file {path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise SuiteError(f"suite file {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise SuiteError(f"suite file {path}: cannot read it ({exc.strerror or exc})") from exc


def load_suite(
    name_or_path: str,
    *,
    datasets: list[str] | None = None,
    strategies: list[str] | None = None,
    models: list[str] | None = None,
    frameworks: list[str] | None = None,
    folds: int | None = None,
    repeats: int | None = None,
    dataset_files: list[dict[str, Any]] | None = None,
) -> Suite:
    """Read and validate a suite (every key's type and range); command-line overrides replace the file's values.

    ``dataset_files``: user files (``path``, ``target``, optional ``positive`` /
    ``rule`` / ``name``) that replace the suite's datasets; the suite is then
    named ``<suite>-<file's dataset name>`` (its store and report too).
    """
    path = find_suite(name_or_path)
    raw = _read(path)
    if dataset_files is not None:
        try:
            files = tuple(read_dataset_file(e, "--dataset-file") for e in _checked(dataset_files))
        except ValueError as exc:
            raise SuiteError(str(exc)) from None
        raw = {k: v for k, v in raw.items() if k not in ("datasets", "dataset_files", "costs", "priors")}
        raw["datasets"] = [f.name for f in files]
    try:
        if dataset_files is None:
            files = _files(raw, path)
        suite = _build(path, raw, datasets, strategies, models, frameworks, folds, repeats)
    except SuiteError as exc:
        if str(exc).startswith(("--", "suite file")):
            raise
        raise SuiteError(f"suite file {path}: {exc}") from None
    name = f"{suite.name}-{'-'.join(f.name for f in files)}" if dataset_files is not None else suite.name
    return replace(suite, name=name, files=files)


def _checked(dataset_files: Any) -> list:
    if not isinstance(dataset_files, list) or not dataset_files:
        raise SuiteError(f"--dataset-file: expected at least one file; received {dataset_files!r}")
    return dataset_files


def _files(raw: dict[str, Any], path: Path) -> tuple[DatasetFile, ...]:
    """``[[dataset_files]]``: each file read, validated and registered; their names join ``datasets``."""
    entries = raw.get("dataset_files", [])
    if not isinstance(entries, list):
        raise SuiteError(f"dataset_files must be an array of tables ([[dataset_files]]); received {entries!r}")
    try:
        files = tuple(read_dataset_file(e, f"dataset_files[{i}]", path.parent) for i, e in enumerate(entries))
    except ValueError as exc:
        raise SuiteError(str(exc)) from None
    raw["datasets"] = [*raw.get("datasets", []), *[f.name for f in files]]
    return files


def _build(path: Path, raw: dict[str, Any], datasets, strategies, models, frameworks, folds, repeats) -> Suite:
    known = {"description", *LIST_KEYS, "protocol", "training", "published", "costs", "priors", "dataset_files",
             "offline_hint", "check_strategies"}  # fmt: skip
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SuiteError(f"unknown keys {unknown}")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise SuiteError(f"description must be text; received {type(description).__name__} {description!r}")
    proto = _table(raw, "protocol")
    for option, key, value in (("--folds", "folds", folds), ("--repeats", "repeats", repeats)):
        if value is not None:
            proto[key] = KEYS["protocol"][key].check(option, value)
    names, selected = _dataset_names(datasets or raw.get("datasets", []))
    asked = strategies or raw.get("strategies", "all")
    return Suite(
        name=path.stem,
        description=description,
        datasets=names,
        strategies=_check_tasks(
            names, _names(asked, list(STRATEGIES), "strategy", field_name="strategies"), explicit=asked != "all"
        ),
        models=_names(models or raw.get("models", ["linear"]), list(MODELS), "model", field_name="models"),
        frameworks=_names(
            frameworks or raw.get("frameworks", ["numpy"]), _fw.names(), "framework", field_name="frameworks"
        ),
        metrics=_metric_names(raw.get("metrics", "all"), names),
        protocol=Protocol(**proto),
        training=Training(**_table(raw, "training")),
        published=_published(raw.get("published", {})),
        selected=selected,
        costs=_per_dataset(raw, "costs", names, matrix=True),
        priors=_per_dataset(raw, "priors", names, matrix=False),
        offline_hint=_hint(raw.get("offline_hint", "")),
        check_strategies=_check_strategies(raw.get("check_strategies", [])),
    )


def _check_strategies(value: Any) -> tuple[str, ...]:
    """``check_strategies``: strategies scikit-learn's LogisticRegression can express (``sklearn_class_weight``)."""
    names = _names(value, list(STRATEGIES), "strategy", field_name="check_strategies") if value else ()
    bad = [n for n in names if STRATEGIES[n].sklearn_class_weight is None or STRATEGIES[n].estimator is not None]
    if bad:
        raise SuiteError(f"check_strategies: {bad} have no scikit-learn LogisticRegression form; received {value!r}")
    return names


def _hint(value: Any) -> str:
    if not isinstance(value, str):
        raise SuiteError(f"offline_hint must be text; received {type(value).__name__} {value!r}")
    return value


def check_data(suite: Suite, *, download: bool | None = None) -> Suite:
    """Load every dataset once (fail fast): unavailable ones are skipped with their reason; folds vs minority."""
    keep, skipped = [], []
    for name in suite.datasets:
        try:
            d = _datasets.load(name, download=download)
        except _datasets.DatasetUnavailableError as exc:
            skipped.append((name, f"{exc}; {suite.offline_hint}" if suite.offline_hint else str(exc)))
            continue
        except _datasets.DatasetError as exc:  # a known-broken loader is left out with its reason, not fatal
            if _datasets.info(name).availability() != "broken":
                raise
            skipped.append((name, f"broken loader: {exc}"))
            continue
        try:
            _check_folds(suite, name, d)
        except SuiteError as exc:
            if name not in suite.selected:
                raise
            skipped.append((name, str(exc).removeprefix("protocol: ")))
            continue
        keep.append(name)
    if not keep:
        reasons = "; ".join(r for _, r in skipped)
        raise SuiteError(f"suite {suite.name!r}: no dataset is available ({reasons})")
    return replace(suite, datasets=tuple(keep), skipped=tuple(skipped))


def _check_folds(suite: Suite, name: str, d) -> None:
    """Stratified folds need a sample of every class in every fold (datasets with a fixed test part excepted)."""
    if getattr(d, "test_mask", None) is not None:
        if getattr(d.info, "task", "binary") != "longtail":
            raise SuiteError(f"datasets: {name!r} has a fixed test part but its task is {d.info.task!r}")
        return
    if getattr(d.info, "task", "binary") == "longtail":
        raise SuiteError(f"datasets: long-tailed dataset {name!r} has no fixed test part (test_mask)")
    binary = getattr(d.info, "task", "binary") == "binary"
    smallest = d.n_minority if binary else int(np.bincount(d.y).min())
    if smallest < suite.protocol.folds:
        what = "minority samples" if binary else "samples in its smallest class"
        raise SuiteError(
            f"protocol: {suite.protocol.folds} folds but dataset {name!r} has only {smallest} {what}; "
            "stratified folds need at least one per fold"
        )


def check_data_quiet(suite: Suite) -> Suite:
    """The suite's datasets as they were available for the run (for rendering a report)."""
    try:
        return check_data(suite, download=False)
    except SuiteError:
        return suite


def check_frameworks(suite: Suite) -> None:
    from ... import frameworks as fw

    for name in suite.frameworks:
        fw.get(name).load()  # requested but not importable: a clear error before any work
