"""Task suites: weighted cross entropy against resampling and cost-sensitive learning on standard datasets.

>>> from wce_ref.compare import STRATEGIES, WCEClassifier
>>> sorted(STRATEGIES)[:3]
['adasyn', 'balanced_bagging', 'balanced_random_forest']
"""

from __future__ import annotations

from .analysis._bayes import DEFAULT_ROPE, KEY_PAIRS, BayesComparison, bayes_signed_rank, compare_pairs
from .analysis._stats import analyse, critical_difference, mean_ranks
from .engine._cells import Cell, cells
from .engine._cost import SuiteCost, cpu_hours, projected_wall_time, suite_cost
from .engine._execute import execute
from .engine._run import RunSummary, run
from .engine._store import EXPORT_SUFFIX, Store, StoreError, committed_export, export, report_store
from .engine._suite import MODELS, Suite, SuiteError, check_data, check_data_quiet, find_suite, load_suite
from .methods._cell import THRESHOLD_METRICS, run_cell
from .methods._metrics import ECE_BINS, METRICS, SHOT_THRESHOLDS, expected_calibration_error, metric_names, score
from .methods._models import PenalisedLogisticRegression, WCEClassifier
from .methods._reference import REFERENCE_METHODS, ReferenceMethod, make_reference
from .methods._strategies import STRATEGIES, Strategy, cost_matrix_from_counts
from .methods._threshold import TunedThreshold, inner_cv, tune_threshold
from .methods._trainers import HyperParams, LossSpec, train

__all__ = [
    "DEFAULT_ROPE",
    "KEY_PAIRS",
    "BayesComparison",
    "bayes_signed_rank",
    "compare_pairs",
    "SuiteCost",
    "cpu_hours",
    "projected_wall_time",
    "suite_cost",
    "REFERENCE_METHODS",
    "ReferenceMethod",
    "make_reference",
    "THRESHOLD_METRICS",
    "TunedThreshold",
    "inner_cv",
    "tune_threshold",
    "ECE_BINS",
    "METRICS",
    "MODELS",
    "SHOT_THRESHOLDS",
    "STRATEGIES",
    "Cell",
    "HyperParams",
    "LossSpec",
    "RunSummary",
    "Store",
    "StoreError",
    "PenalisedLogisticRegression",
    "EXPORT_SUFFIX",
    "committed_export",
    "export",
    "report_store",
    "Strategy",
    "Suite",
    "SuiteError",
    "WCEClassifier",
    "analyse",
    "cells",
    "check_data",
    "check_data_quiet",
    "cost_matrix_from_counts",
    "critical_difference",
    "execute",
    "expected_calibration_error",
    "find_suite",
    "load_suite",
    "mean_ranks",
    "metric_names",
    "run",
    "run_cell",
    "score",
    "train",
]
