"""Shared test configuration: which frameworks the run must cover.

``WCE_FRAMEWORKS`` (set by each tox env) lists the frameworks this run
*requests*. A requested framework that fails to import is an error; one that is
not requested is skipped with that reason. Without the variable, the NumPy
reference alone is requested.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from wce_ref import frameworks

settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.register_profile("fuzz", deadline=None)  # tests/test_fuzz.py: 10,000 examples (tox -e fuzz)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def requested_frameworks() -> list[str]:
    raw = os.environ.get("WCE_FRAMEWORKS", "numpy")
    return [frameworks.resolve(n) for n in raw.split(",") if n.strip()]


def keras_framework() -> str | None:
    """The requested Keras framework that runs in this process (Keras' backend here, ``KERAS_BACKEND``), if any;
    a Keras framework of another backend runs in a process of its own (``wce check``), not in these tests."""
    from wce_ref.frameworks._keras import process_backend

    name = f"keras-{process_backend()}"
    return name if name in requested_frameworks() else None


@pytest.fixture(scope="session")
def requested() -> list[str]:
    return requested_frameworks()


#: test modules that exercise no framework: tox runs them in its numpy environment, and its torch,
#: tensorflow and jax environments skip them (the same code would run four times)
FRAMEWORK_INDEPENDENT = {
    "test_bayes.py",
    "test_compare_benchmark.py",
    "test_compare_dataset_file.py",
    "test_cost.py",
    "test_datasets.py",
    "test_datasets_multiclass.py",
    "test_imports.py",
    "test_out_dir.py",
    "test_reference_accuracy.py",
    "test_reference_methods.py",
    "test_reference_properties.py",
    "test_run_output.py",
    "test_store.py",
    "test_threshold.py",
    "test_user_file.py",
    "test_weights.py",
}


def pytest_collection_modifyitems(config, items):
    env = os.environ.get("TOX_ENV_NAME", "")
    if env not in {"torch", "tensorflow", "jax"}:
        return
    skip = pytest.mark.skip(reason=f"framework-independent: runs in tox's numpy environment, not in {env}")
    for item in items:
        if item.path.name in FRAMEWORK_INDEPENDENT:
            item.add_marker(skip)
