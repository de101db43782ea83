"""A progress bar: tqdm when installed, a plain counter on stderr otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], *, total: int | None = None, desc: str = "", enabled: bool = True) -> Iterator[T]:
    if not enabled:
        yield from items
        return
    try:
        from tqdm import tqdm
    except ImportError:
        total = total if total is not None else len(items)  # type: ignore[arg-type]
        for i, item in enumerate(items, 1):
            print(f"\r{desc} {i}/{total}", end="", file=sys.stderr, flush=True)
            yield item
        print(file=sys.stderr)
        return
    yield from tqdm(items, total=total, desc=desc, file=sys.stderr, dynamic_ncols=True)
