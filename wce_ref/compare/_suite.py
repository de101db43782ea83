"""Suites: named configurations (datasets x strategies x models x frameworks x protocol) in TOML files.

Suite files live in ``suites/`` at the project root (``suites/default.toml``
...); ``wce compare PATH.toml`` takes any file. Everything is validated before
any work starts.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import datasets as _datasets
from ._metrics import METRICS
from ._strategies import STRATEGIES

MODELS = {"linear": (), "mlp": (32,), "sklearn_lr": None}
FRAMEWORKS = ("numpy", "torch", "jax", "tensorflow")
SUITES_ENV = "WCE_SUITES"


class SuiteError(ValueError):
    """A suite configuration that cannot run; raised before any work starts."""


@dataclass(frozen=True)
class Protocol:
    folds: int = 5
    repeats: int = 3
    seed: int = 0


@dataclass(frozen=True)
class Training:
    lr: float = 0.05
    max_epochs: int = 300
    patience: int = 8
    l2: float = 1e-4
    validation_fraction: float = 0.1


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

    def config_hash(self) -> str:
        """Identifies results that are comparable: protocol, training and metric definitions."""
        blob = json.dumps({"protocol": asdict(self.protocol), "training": asdict(self.training)}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def suite_dirs() -> list[Path]:
    env = os.environ.get(SUITES_ENV)
    if env:
        return [Path(p) for p in env.split(os.pathsep) if p]
    here = Path(__file__).resolve().parents[2] / "suites"
    return [Path.cwd() / "suites", here]


def find_suite(name_or_path: str) -> Path:
    p = Path(name_or_path)
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


def _dataset_names(value: Any) -> tuple[str, ...]:
    if value == "offline":  # every dataset available without a download
        return tuple(n for n, i in _datasets.registry().items() if i.availability() == "offline")
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise SuiteError(f"datasets: expected a non-empty list of names or 'offline', got {value!r}")
    for n in value:
        try:
            _datasets.info(n)
        except KeyError as exc:
            raise SuiteError(f"datasets: {exc}") from exc
    return tuple(value)


def load_suite(
    name_or_path: str,
    *,
    datasets: list[str] | None = None,
    strategies: list[str] | None = None,
    models: list[str] | None = None,
    frameworks: list[str] | None = None,
    folds: int | None = None,
    repeats: int | None = None,
) -> Suite:
    """Read and validate a suite; command-line overrides replace the file's lists."""
    path = find_suite(name_or_path)
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"suite file {path}: {exc}") from exc
    unknown = set(raw) - {
        "description",
        "datasets",
        "strategies",
        "models",
        "frameworks",
        "metrics",
        "protocol",
        "training",
        "published",
    }
    if unknown:
        raise SuiteError(f"suite file {path}: unknown keys {sorted(unknown)}")
    proto = {
        **raw.get("protocol", {}),
        **({"folds": folds} if folds else {}),
        **({"repeats": repeats} if repeats else {}),
    }
    try:
        protocol = Protocol(**proto)
        training = Training(**raw.get("training", {}))
    except TypeError as exc:
        raise SuiteError(f"suite file {path}: {exc}") from exc
    if protocol.folds < 2 or protocol.repeats < 1:
        raise SuiteError(f"protocol: folds must be >= 2 and repeats >= 1, got {protocol.folds} and {protocol.repeats}")
    suite = Suite(
        name=path.stem,
        description=raw.get("description", ""),
        datasets=_dataset_names(datasets or raw.get("datasets", [])),
        strategies=_names(
            strategies or raw.get("strategies", "all"), list(STRATEGIES), "strategy", field_name="strategies"
        ),
        models=_names(models or raw.get("models", ["linear"]), list(MODELS), "model", field_name="models"),
        frameworks=_names(
            frameworks or raw.get("frameworks", ["numpy"]), FRAMEWORKS, "framework", field_name="frameworks"
        ),
        metrics=_names(raw.get("metrics", "all"), METRICS, "metric", field_name="metrics"),
        protocol=protocol,
        training=training,
        published=raw.get("published", {}),
    )
    return suite


def check_data(suite: Suite, *, download: bool | None = None) -> Suite:
    """Load every dataset once (fail fast): unavailable ones are skipped with their reason; folds vs minority."""
    keep, skipped = [], []
    for name in suite.datasets:
        try:
            d = _datasets.load(name, download=download)
        except _datasets.DatasetUnavailableError as exc:
            skipped.append((name, str(exc)))
            continue
        if d.n_minority < suite.protocol.folds:
            raise SuiteError(
                f"protocol: {suite.protocol.folds} folds but dataset {name!r} has only {d.n_minority} minority "
                "samples; stratified folds need at least one per fold"
            )
        keep.append(name)
    if not keep:
        reasons = "; ".join(r for _, r in skipped)
        raise SuiteError(f"suite {suite.name!r}: no dataset is available ({reasons})")
    from dataclasses import replace

    return replace(suite, datasets=tuple(keep), skipped=tuple(skipped))


def check_data_quiet(suite: Suite) -> Suite:
    """The suite's datasets as they were available for the run (for rendering a report)."""
    try:
        return check_data(suite, download=False)
    except SuiteError:
        return suite


def check_frameworks(suite: Suite) -> None:
    from .. import frameworks as fw

    for name in suite.frameworks:
        fw.get(name).load()  # requested but not importable: a clear error before any work
