"""`wce run`'s agreement stage resumes at its next cell: each finished cell is journalled (wce_ref.check)."""

from __future__ import annotations

import json

import pytest

from wce_ref import agreement, check


def _counting(monkeypatch) -> list[str]:
    ran: list[str] = []
    real = agreement.run_cell

    def run_cell(cell, **kwargs):
        ran.append(cell.id)
        return real(cell, **kwargs)

    monkeypatch.setattr(agreement, "run_cell", run_cell)
    return ran


def test_an_interrupted_matrix_resumes_at_its_next_cell(monkeypatch, tmp_path):
    journal = tmp_path / ".agreement-cells.jsonl"
    fresh, _ = check.run_matrix(["numpy"], dtypes=["float64"], show_progress=False)
    total = len(fresh)
    assert total > 4

    def interrupt(done: int, n: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        check.run_matrix(["numpy"], dtypes=["float64"], on_progress=interrupt, journal=journal)
    assert len(journal.read_text().splitlines()) == 1 + 3  # the versions, then the three finished cells
    with open(journal, "a") as f:
        f.write('{"id": "cut short by the interrupt')  # a line the interrupt cut
    ran, counts = _counting(monkeypatch), []
    resumed, _ = check.run_matrix(["numpy"], dtypes=["float64"], on_progress=lambda d, n: counts.append((d, n)),
                                  journal=journal)  # fmt: skip
    assert len(ran) == total - 3 and counts[0] == (3, total) and counts[-1] == (total, total)
    assert [r.as_dict() for r in resumed] == [r.as_dict() for r in fresh]  # the same results, in the same order
    assert len(journal.read_text().splitlines()) == 1 + total  # the cut line dropped


def test_a_journal_of_other_versions_is_not_reused(monkeypatch, tmp_path):
    journal = tmp_path / "j.jsonl"
    check.run_matrix(["numpy"], dtypes=["float64"], show_progress=False, journal=journal)
    lines = journal.read_text().splitlines()
    key = json.loads(lines[0])
    key["wce_ref"] = "0.0.0-other"
    journal.write_text("\n".join([json.dumps(key), *lines[1:]]) + "\n")
    ran = _counting(monkeypatch)
    results, _ = check.run_matrix(["numpy"], dtypes=["float64"], show_progress=False, journal=journal)
    assert len(ran) == len(results)  # every cell ran again
