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


@pytest.fixture(scope="session")
def requested() -> list[str]:
    return requested_frameworks()
