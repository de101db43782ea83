"""Checksums and atomic writes: a file is either verified or an error naming it."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

from ._base import IntegrityError


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_verified(path: Path, sha256: str, *, dataset: str) -> bytes:
    """The content of ``path`` (decompressed when it ends in ``.gz``), checked against ``sha256``.

    The checksum is that of the uncompressed content, so a mirror may hold the
    file compressed or not. A truncated gzip stream, an unreadable file or a
    different checksum raise :class:`IntegrityError` naming the file.
    """
    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise IntegrityError(f"dataset {dataset!r}: file {path} is truncated or corrupt ({exc})") from exc
    except OSError as exc:
        raise IntegrityError(f"dataset {dataset!r}: cannot read {path}: {exc}") from exc
    got = sha256_bytes(data)
    if got != sha256:
        raise IntegrityError(
            f"dataset {dataset!r}: checksum mismatch for {path}: expected sha256 {sha256}, got {got} "
            f"({len(data):,} bytes); the file is truncated, modified or a different version"
        )
    return data


def atomic_write(dest: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``dest``, then move it into place.

    An interrupted write leaves no partial ``dest`` behind.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def download(url: str, dest: Path, *, sha256: str | None = None, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` through a temporary file; verify ``sha256`` when given."""
    from urllib.request import urlopen

    def write(tmp: Path) -> None:
        with urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
        if sha256 is not None and (got := sha256_file(tmp)) != sha256:
            raise IntegrityError(f"download of {url}: checksum mismatch, expected {sha256}, got {got}")

    return atomic_write(dest, write)


class Manifest:
    """``SHA256SUMS.json`` of a cache directory: recorded when a file is downloaded, checked when it is read."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.path = directory / "SHA256SUMS.json"

    def read(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        try:
            sums = json.loads(self.path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
            raise IntegrityError(f"cache manifest {self.path} is unreadable: {exc}") from exc
        if not isinstance(sums, dict) or not all(isinstance(v, str) for v in sums.values()):
            raise IntegrityError(
                f"cache manifest {self.path} must be a JSON object of file name -> sha256; "
                f"received a JSON {type(sums).__name__}; delete it and fetch again (wce datasets fetch NAME)"
            )
        return sums

    def record(self, relpath: str) -> None:
        sums = self.read()
        sums[relpath] = sha256_file(self.directory / relpath)
        atomic_write(self.path, lambda tmp: tmp.write_text(json.dumps(sums, indent=1, sort_keys=True)))

    def verify(self, relpath: str, *, dataset: str) -> Path:
        path = self.directory / relpath
        expected = self.read().get(relpath)
        if expected is None:
            raise IntegrityError(
                f"dataset {dataset!r}: cached file {path} has no recorded checksum in {self.path}; "
                f"delete it and fetch again (wce datasets fetch {dataset})"
            )
        got = sha256_file(path)
        if got != expected:
            raise IntegrityError(
                f"dataset {dataset!r}: checksum mismatch for cached file {path}: recorded {expected}, got {got}; "
                f"delete it and fetch again (wce datasets fetch {dataset})"
            )
        return path
