"""A user's own CSV / TSV / Parquet file: checked on reading, with errors naming the file and the column."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from wce_ref import datasets  # noqa: E402
from wce_ref.cli import main  # noqa: E402
from wce_ref.datasets import DatasetError, IntegrityError  # noqa: E402
from wce_ref.datasets._user import MAX_CATEGORIES  # noqa: E402

N = 120


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "age": rng.integers(20, 80, N),
            "score": rng.normal(size=N).round(4),
            "city": [("Oslo", "Lima", "Pune")[i % 3] for i in range(N)],
            "outcome": ["sick" if i % 8 == 0 else "ok" for i in range(N)],
        }
    )


def _write(frame, path):
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, sep="\t" if path.suffix == ".tsv" else ",", index=False)
    return path


def _rejected(path, match: str, *, target: str = "outcome", column: str | None = None, **kw):
    """Reading ``path`` fails with a message naming the file and (when given) the column."""
    with pytest.raises(DatasetError, match=match) as err:
        datasets.load_file(path, target, **kw)
    message = str(err.value)
    assert str(path) in message
    if column is not None:
        assert repr(column) in message
    return message


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".csv.gz"])
def test_a_good_file_loads_and_records_its_sha256(frame, tmp_path, suffix):
    path = tmp_path / f"patients{suffix}"
    if suffix == ".csv.gz":
        frame.to_csv(path, index=False, compression="gzip")
    else:
        _write(frame, path)
    d = datasets.load_file(path, "outcome", positive="sick")
    assert (d.n_rows, d.n_minority) == (N, N // 8)
    assert d.feature_names == ["age", "score", "city=Lima", "city=Oslo", "city=Pune"]
    np.testing.assert_allclose(d.X[:, 1], frame["score"])
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    source = d.info.sources[0]
    assert source.sha256 == sha
    assert sha in d.info.notes and str(path) in d.info.notes
    assert f"sha256 {sha}" in d.info.card()
    assert d.info.target_rule == "target column 'outcome' == 'sick'"


def test_the_command_line_shows_the_sha256(frame, tmp_path, capsys):
    path = _write(frame, tmp_path / "p.csv")
    assert main(["datasets", "load", str(path), "--target", "outcome", "--positive", "sick"]) == 0
    assert hashlib.sha256(path.read_bytes()).hexdigest() in capsys.readouterr().out


def test_a_file_that_changes_after_it_was_read_is_refused(frame, tmp_path):
    path = _write(frame, tmp_path / "p.csv")
    info = datasets.file_info(path, "outcome", positive="sick", name="p")
    assert info.sources[0].load(download=False, dataset="p").features.shape == (N, 3)  # unchanged: reads again
    _write(frame.iloc[:-1], path)
    with pytest.raises(IntegrityError, match=rf"{re.escape(str(path))}: checksum mismatch: .* the file changed"):
        info.sources[0].load(download=False, dataset="p")


def test_missing_target_column(frame, tmp_path):
    path = _write(frame, tmp_path / "p.csv")
    msg = _rejected(path, r"target: column 'label' not in", target="label", column="label")
    assert "columns are ['age', 'score', 'city', 'outcome']" in msg


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_single_class_is_refused(frame, tmp_path, suffix):
    path = _write(frame.assign(outcome="ok"), tmp_path / f"one{suffix}")
    _rejected(path, r"target: column 'outcome' of .* has a single class \('ok' in all 120 rows\)", column="outcome")
    _rejected(path, r"has a single class", positive="ok")
    good = _write(frame, tmp_path / f"two{suffix}")
    _rejected(
        good,
        r"target: the rule on column 'age' of .* leaves a single class \(120 positive of 120 rows\)",
        target="age",
        rule="<= 1000",
        column="age",
    )


def test_blank_target_values_are_refused(frame, tmp_path):
    path = _write(frame.assign(outcome=frame["outcome"].where(frame.index != 5)), tmp_path / "p.csv")
    _rejected(path, r"target: column 'outcome' of .* has 1 blanks", column="outcome")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize(
    ("value", "what"),
    [(np.nan, r"has 2 missing values \(first at row 3\)"), (np.inf, r"has 2 infinite values \(first at row 3\)")],
)
def test_nan_and_inf_features_are_refused(frame, tmp_path, suffix, value, what):
    score = frame["score"].copy()
    score.iloc[[3, 9]] = value
    path = _write(frame.assign(score=score), tmp_path / f"bad{suffix}")
    _rejected(path, rf"feature: .*: numeric column 'score' {what}", positive="sick", column="score")


def test_nullable_integer_with_a_missing_value_is_refused(frame, tmp_path):
    age = frame["age"].astype("Int64")
    age.iloc[7] = pd.NA
    path = _write(frame.assign(age=age), tmp_path / "bad.parquet")
    _rejected(path, r"numeric column 'age' has 1 missing values \(first at row 7\)", positive="sick", column="age")


def test_an_identifier_column_cannot_be_encoded(frame, tmp_path):
    path = _write(frame.assign(patient=[f"P{i:05d}" for i in range(N)]), tmp_path / "ids.csv")
    _rejected(
        path,
        r"text column 'patient' has 120 distinct values in 120 rows, .* identifier or free text",
        column="patient",
        positive="sick",
    )


def test_too_many_categories_cannot_be_encoded(frame, tmp_path):
    big = pd.concat([frame] * 5, ignore_index=True)  # 600 rows, 240 categories each used 2-3 times
    big["code"] = [f"c{i % (MAX_CATEGORIES + 40)}" for i in range(len(big))]
    path = _write(big, tmp_path / "wide.csv")
    _rejected(
        path,
        rf"text column 'code' has {MAX_CATEGORIES + 40} distinct values in 600 rows",
        column="code",
        positive="sick",
    )


def test_numbers_with_stray_text_cannot_be_encoded(frame, tmp_path):
    score = frame["score"].astype(str)
    score.iloc[[4, 50]] = ["unknown", "?"]
    path = _write(frame.assign(score=score), tmp_path / "stray.csv")
    _rejected(
        path,
        r"column 'score' holds numbers with 2 entries that are not numbers, e\.g\. \['\?', 'unknown'\]",
        column="score",
        positive="sick",
    )


def test_nested_values_cannot_be_encoded(frame, tmp_path):
    pytest.importorskip("pyarrow")
    path = _write(frame.assign(tags=[[i, i + 1] for i in range(N)]), tmp_path / "nested.parquet")
    _rejected(
        path, r"column 'tags' holds 120 lists, arrays or mappings \(first at row 0", column="tags", positive="sick"
    )


def test_encodable_text_is_encoded_not_refused(frame, tmp_path):
    """Few categories, codes written as text and blanks in a text column are all one-hot encoded."""
    codes = pd.Series([str(i % 4) for i in range(N)], dtype=object)
    codes.iloc[2] = "?"
    city = frame["city"].where(frame.index != 6)
    path = _write(frame.assign(code=codes, city=city), tmp_path / "ok.csv")
    d = datasets.load_file(path, "outcome", positive="sick")
    assert "city=?" in d.feature_names and "code=?" in d.feature_names and "code=3" in d.feature_names


def test_the_command_line_names_the_file_and_column(frame, tmp_path, capsys):
    score = frame["score"].copy()
    score.iloc[0] = np.nan
    path = _write(frame.assign(score=score), tmp_path / "bad.csv")
    assert main(["datasets", "load", str(path), "--target", "outcome", "--positive", "sick"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "numeric column 'score' has 1 missing values" in err


def test_a_file_without_rows_or_features(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("a,y\n")
    _rejected(empty, r"no data rows", target="y")
    only_target = tmp_path / "target.csv"
    only_target.write_text("y\n" + "\n".join("ab"[i % 2] for i in range(10)) + "\n")
    _rejected(only_target, r"feature: .* has no feature columns besides the target", target="y")
    with pytest.raises(DatasetError, match=r"is a directory"):
        datasets.load_file(tmp_path, "y")


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".tsv"])
def test_a_repeated_column_name_is_refused(tmp_path, suffix):
    """pandas renames the second ``a`` to ``a.1``: the file is refused instead, naming the column."""
    path = tmp_path / f"dup{suffix}"
    sep = "\t" if suffix == ".tsv" else ","
    text = f"a{sep}a{sep}y\n" + "".join(f"{i}{sep}{i % 3}{sep}{'xz'[i % 2]}\n" for i in range(20))
    if suffix.endswith(".gz"):
        import gzip

        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    _rejected(path, r"columns: the header of .* repeats the column name\(s\) 'a'", target="y", column="a")


def test_a_file_with_too_few_rows_of_a_class_is_refused(tmp_path):
    two = tmp_path / "two.csv"
    two.write_text("a,y\n1,x\n2,z\n")
    message = _rejected(two, r"target: too few rows: column 'y' of .* gives 1 positive and 1 negative rows", target="y",
                        column="y")  # fmt: skip
    assert "at least 2" in message
    one_minority = tmp_path / "one.csv"
    one_minority.write_text("a,y\n" + "".join(f"{i},{'z' if i == 0 else 'x'}\n" for i in range(30)))
    _rejected(one_minority, r"gives 1 positive and 29 negative rows", target="y", column="y")
    two_each = tmp_path / "four.csv"
    two_each.write_text("a,y\n1,x\n2,z\n3,x\n4,z\n")
    assert datasets.load_file(two_each, "y").summary()["rows"] == 4


def test_free_text_in_a_small_file_is_refused_not_encoded(frame, tmp_path):
    """Sixteen rows, sixteen different sentences: under the identifier limit of 20 values, still free text."""
    small = frame.head(16).assign(note=[f"patient {i} reported mild symptoms on day {i + 2}" for i in range(16)])
    path = _write(small, tmp_path / "notes.csv")
    _rejected(path, r"text column 'note' has 16 distinct values in 16 rows, 16 of them found in one row only",
              column="note", positive="sick")  # fmt: skip
    repeated = frame.head(16).assign(note=[("mild", "severe", "none")[i % 3] for i in range(16)])
    d = datasets.load_file(_write(repeated, tmp_path / "ok.csv"), "outcome", positive="sick")
    assert "note=severe" in d.feature_names
