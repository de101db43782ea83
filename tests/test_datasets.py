"""The dataset registry: published figures reproduced offline, integrity errors, user files."""

from __future__ import annotations

import gzip
import os
import shutil
import urllib.error

import numpy as np
import pytest

from wce_ref import datasets
from wce_ref.cli import main
from wce_ref.datasets import DatasetError, DatasetUnavailableError, IntegrityError, UnknownDatasetError

MIRROR = datasets.mirror_dir()
needs_mirror = pytest.mark.skipif(
    MIRROR is None and not os.environ.get("WCE_REQUIRE_MIRROR"),
    reason=f"no offline mirror (set {datasets.MIRROR_ENV} to ../shared/datasets)",
)


def test_mirror_is_found_when_required():
    if os.environ.get("WCE_REQUIRE_MIRROR"):
        assert MIRROR is not None, f"{datasets.MIRROR_ENV}={os.environ.get(datasets.MIRROR_ENV)!r} is not a directory"


def test_registry_covers_every_collection():
    zenodo = datasets.names("zenodo")
    assert len(zenodo) == 27
    assert {"ecoli", "yeast_me2", "protein_homo", "abalone_19", "webpage"} <= set(zenodo)
    assert len(datasets.names("keel")) >= 117
    assert {"ecoli3", "yeast4", "abalone19", "car_vgood", "page_blocks_1_3_vs_4", "sylva"} <= set(datasets.names())
    mirrored = [
        n for n, i in datasets.registry().items() if i.task == "binary" and any(s.kind == "mirror" for s in i.sources)
    ]
    assert len(mirrored) == 13
    assert datasets.names("openml") == ["creditcard"]


@needs_mirror
def test_listing_reports_availability(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line and not line.startswith(("-", "name"))}
    assert "offline" in lines["letter_img"] and "offline" in lines["ecoli3"]
    assert "needs download" in lines["protein_homo"] or "cached" in lines["protein_homo"]
    assert main(["datasets", "show", "mammography"]) == 0
    card = capsys.readouterr().out
    assert "11,183" in card and "minority       260" in card


def _offline_names() -> list[str]:
    return [n for n, i in datasets.registry().items() if i.availability() in ("offline", "broken")]


@needs_mirror
@pytest.mark.parametrize("name", _offline_names())
def test_offline_dataset_reproduces_published_figures(name):
    meta = datasets.info(name)
    if meta.availability() == "broken":
        with pytest.raises(DatasetError, match=f"{name}.*failed"):
            datasets.load(name, download=False)
        return
    d = datasets.load(name, download=False)
    assert d.n_rows == meta.n_rows
    if meta.n_minority is not None:
        assert d.n_minority == meta.n_minority
    assert round(d.imbalance_ratio, meta.ir_decimals) == round(meta.imbalance_ratio, meta.ir_decimals)
    features = d.X.shape[1] if meta.features_counted == "encoded" else d.n_raw_features
    assert features == meta.n_features
    assert d.X.dtype == np.float64 and np.isfinite(d.X).all()
    assert set(np.unique(d.y)) == set(range(meta.n_classes))  # {0, 1} for binary sets


def test_unknown_name_is_a_clear_error(capsys):
    with pytest.raises(UnknownDatasetError, match=r"unknown dataset 'mamography'.*did you mean mammography"):
        datasets.load("mamography")
    assert main(["datasets", "show", "no_such_set"]) == 2
    assert "unknown dataset 'no_such_set'" in capsys.readouterr().err


@pytest.fixture
def private_mirror(tmp_path, monkeypatch):
    """A writable copy of two mirror folders, used as the mirror."""
    if MIRROR is None:
        pytest.skip("no offline mirror")
    for folder in ("oil_spill", "mammography"):
        shutil.copytree(MIRROR / folder, tmp_path / folder)
        for f in (tmp_path / folder).iterdir():
            f.chmod(0o644)
    monkeypatch.setenv(datasets.MIRROR_ENV, str(tmp_path))
    datasets._load.cache_clear()
    yield tmp_path
    datasets._load.cache_clear()


def test_checksum_mismatch_names_the_file(private_mirror):
    path = private_mirror / "oil_spill" / "oil-spill.csv.gz"
    text = gzip.decompress(path.read_bytes()).replace(b"2558", b"2559", 1)  # one digit changed
    path.write_bytes(gzip.compress(text))
    with pytest.raises(IntegrityError, match=r"checksum mismatch for .*oil-spill\.csv\.gz"):
        datasets.load("oil", download=False)


def test_truncated_file_names_the_file(private_mirror):
    path = private_mirror / "mammography" / "mammography.csv.gz"
    path.write_bytes(path.read_bytes()[:-5000])
    with pytest.raises(IntegrityError, match=r"mammography\.csv\.gz is truncated or corrupt"):
        datasets.load("mammography", download=False)


def test_truncated_uncompressed_file_fails_the_checksum(private_mirror):
    path = private_mirror / "oil_spill" / "oil-spill.csv.gz"
    lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
    path.write_bytes(gzip.compress(b"".join(lines[:-10])))  # a well-formed gzip of a shorter file
    with pytest.raises(IntegrityError, match="checksum mismatch"):
        datasets.load("oil", download=False)


def test_missing_mirror_file_falls_back_to_download_then_reports(private_mirror, monkeypatch, tmp_path):
    (private_mirror / "oil_spill" / "oil-spill.csv.gz").unlink()
    monkeypatch.setenv(datasets.DATA_HOME_ENV, str(tmp_path / "home"))
    with pytest.raises(DatasetUnavailableError, match=r"mirror files missing.*downloads are disabled"):
        datasets.load("oil", download=False)


@pytest.fixture
def user_csv(tmp_path):
    path = tmp_path / "patients.csv"
    rng = np.random.default_rng(0)
    rows = ["age,city,score,outcome"]
    for i in range(200):
        outcome = "sick" if i % 10 == 0 else "ok"
        rows.append(f"{rng.integers(20, 80)},{'ABC'[i % 3]},{rng.normal():.4f},{outcome}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_user_csv_from_python(user_csv):
    d = datasets.load_file(user_csv, "outcome", positive="sick")
    assert (d.n_rows, d.n_minority, d.n_raw_features) == (200, 20, 3)
    assert d.feature_names == ["age", "city=A", "city=B", "city=C", "score"]
    same = datasets.load_file(user_csv, "outcome")  # two values: the rarer is positive
    np.testing.assert_array_equal(same.y, d.y)
    by_rule = datasets.load_file(user_csv, "age", rule=">= 70")
    assert by_rule.n_minority == int((d.X[:, 0] >= 70).sum())


def test_user_csv_from_the_command_line(user_csv, capsys):
    assert main(["datasets", "load", str(user_csv), "--target", "outcome", "--positive", "sick"]) == 0
    out = capsys.readouterr().out
    assert "200 rows x 5 features, 20 positive, IR 9.0" in out


def test_user_parquet(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    path = tmp_path / "t.parquet"
    pd.DataFrame({"x": np.arange(50.0), "y": [1] * 5 + [0] * 45}).to_parquet(path)
    assert datasets.load_file(path, "y", positive=1).n_minority == 5


def test_user_file_errors(user_csv, tmp_path, capsys):
    with pytest.raises(IntegrityError, match=r"target: column 'label' not in .*patients\.csv; columns are"):
        datasets.load_file(user_csv, "label")
    with pytest.raises(DatasetError, match=r"positive: label 'yes' not found in column 'outcome'"):
        datasets.load_file(user_csv, "outcome", positive="yes")
    with pytest.raises(DatasetError, match="has 3 values"):
        datasets.load_file(user_csv, "city")
    with pytest.raises(DatasetError, match="no such file"):
        datasets.load_file(tmp_path / "nope.csv", "y")
    with pytest.raises(DatasetError, match="rule must look like"):
        datasets.load_file(user_csv, "age", rule="about 40")
    assert main(["datasets", "load", str(user_csv), "--target", "label"]) == 2
    assert "column 'label' not in" in capsys.readouterr().err


def test_zenodo_cache_is_verified(tmp_path, monkeypatch):
    """A cached Zenodo file is read through imbalanced-learn only when its recorded checksum matches."""
    pytest.importorskip("imblearn")
    monkeypatch.setenv(datasets.DATA_HOME_ENV, str(tmp_path))
    datasets._load.cache_clear()
    cache = tmp_path / "zenodo"
    cache.mkdir()
    rng = np.random.default_rng(1)
    label = np.where(rng.random(336) < 0.1, 1, -1)
    np.savez(cache / "x1data.npz", data=rng.normal(size=(336, 7)), label=label)
    with pytest.raises(IntegrityError, match="no recorded checksum"):
        datasets.load("ecoli", download=False)
    datasets.Manifest(cache).record("x1data.npz")
    d = datasets.load("ecoli", download=False)
    assert d.n_minority == int((label == 1).sum()) and d.origin.endswith("x1data.npz")
    datasets._load.cache_clear()
    with open(cache / "x1data.npz", "ab") as fh:
        fh.write(b"junk")
    with pytest.raises(IntegrityError, match=r"checksum mismatch for cached file .*x1data\.npz"):
        datasets.load("ecoli", download=False)
    datasets._load.cache_clear()


def test_not_cached_zenodo_without_download_says_how_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv(datasets.DATA_HOME_ENV, str(tmp_path))
    with pytest.raises(DatasetUnavailableError, match=r"downloads are disabled.*wce datasets fetch protein_homo"):
        datasets.load("protein_homo", download=False)


def test_creditcard_offline_is_skipped_with_a_clear_message(tmp_path, monkeypatch):
    sk = pytest.importorskip("sklearn.datasets")
    monkeypatch.setenv(datasets.DATA_HOME_ENV, str(tmp_path))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(sk, "fetch_openml", offline)
    with pytest.raises(DatasetUnavailableError, match=r"'creditcard' is not available offline.*never replaced"):
        datasets.load("creditcard", download=True)
    with pytest.raises(DatasetUnavailableError, match="downloads are disabled"):
        datasets.load("creditcard", download=False)


def test_downloads_are_atomic(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 100_000)
    dest = tmp_path / "cache" / "file.bin"
    datasets.download(src.as_uri(), dest, sha256=datasets.sha256_file(src))
    assert dest.read_bytes() == src.read_bytes()
    bad = tmp_path / "cache" / "bad.bin"
    with pytest.raises(IntegrityError, match="checksum mismatch"):
        datasets.download(src.as_uri(), bad, sha256="0" * 64)
    assert not bad.exists()
    assert [p.name for p in dest.parent.iterdir()] == ["file.bin"]  # no partial file left behind


def test_infinite_feature_in_a_user_file_is_rejected(tmp_path):
    path = tmp_path / "inf.csv"
    path.write_text("a,b,y\n" + "".join(f"{i},{'inf' if i == 7 else i / 2},{int(i % 5 == 0)}\n" for i in range(30)))
    with pytest.raises(DatasetError, match=r"numeric column 'b' has 1 infinite values \(first at row 7\)"):
        datasets.load_file(path, "y", positive=1)


def test_manifest_that_is_not_an_object_is_an_integrity_error(tmp_path):
    (tmp_path / "SHA256SUMS.json").write_text('["x1data.npz", "abc"]')
    with pytest.raises(IntegrityError, match=r"SHA256SUMS.json must be a JSON object .* received a JSON list"):
        datasets.Manifest(tmp_path).verify("x1data.npz", dataset="ecoli")


def test_cached_file_with_other_rows_than_the_registry_is_rejected(tmp_path, monkeypatch):
    """A tampered cache whose checksum was re-recorded still fails: rows and columns are checked too."""
    pytest.importorskip("imblearn")
    monkeypatch.setenv(datasets.DATA_HOME_ENV, str(tmp_path))
    datasets._load.cache_clear()
    cache = tmp_path / "zenodo"
    cache.mkdir()
    np.savez(cache / "x7data.npz", data=np.ones((5, 93)), label=np.array([1, -1, -1, -1, -1]))
    datasets.Manifest(cache).record("x7data.npz")
    try:
        with pytest.raises(IntegrityError, match=r"'spectrometer' from .*x7data.npz: 5 rows x 93 features .* 531 x 93"):
            datasets.load("spectrometer", download=False)
    finally:
        datasets._load.cache_clear()
