"""Where datasets live: the download cache (data home) and the read-only offline mirror."""

from __future__ import annotations

import os
from pathlib import Path

#: environment variable naming the download cache
DATA_HOME_ENV = "WCE_DATA_HOME"
#: environment variable naming a directory laid out like ``../shared/datasets``
MIRROR_ENV = "WCE_DATA_MIRROR"


def data_home(path: str | os.PathLike[str] | None = None) -> Path:
    """The download cache: ``path``, else ``$WCE_DATA_HOME``, else scikit-learn's data home + ``/wce_ref``.

    scikit-learn's data home is ``$SCIKIT_LEARN_DATA`` or ``~/scikit_learn_data``.
    """
    if path is None:
        path = os.environ.get(DATA_HOME_ENV)
    if path is None:
        base = os.environ.get("SCIKIT_LEARN_DATA", Path("~") / "scikit_learn_data")
        path = Path(base) / "wce_ref"
    return Path(path).expanduser()


def mirror_dirs() -> list[Path]:
    """Candidate mirror directories, first existing wins.

    ``$WCE_DATA_MIRROR`` (``os.pathsep``-separated), then ``../shared/datasets``
    relative to the working directory and to the source checkout.
    """
    env = os.environ.get(MIRROR_ENV)
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    here = Path(__file__).resolve().parents[2]  # the checkout root when running from source
    return [Path.cwd().parent / "shared" / "datasets", here.parent / "shared" / "datasets"]


def mirror_dir() -> Path | None:
    """The first existing mirror directory, or ``None``."""
    for p in mirror_dirs():
        if p.is_dir():
            return p
    return None
