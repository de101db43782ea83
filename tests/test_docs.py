"""Every Python snippet of the README and of the docs/ pages runs, and prints what the page says.

A ```` ```python ```` block followed directly by a ```` ```text ```` block must print exactly that
text. Blocks of one page share a namespace and run in order. A block whose first line is
``# requires: <framework>`` runs only where that framework is requested (``WCE_FRAMEWORKS``);
elsewhere it is skipped with that reason; ``# requires: <anything else>`` (``your-data``) marks an
illustration that needs the reader's own files, skipped with that reason.
``python tests/test_docs.py --fill PAGE`` rewrites the text blocks of a page from a run (then read
the diff before committing it).
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
from pathlib import Path

import pytest

from wce_ref import frameworks

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```python\n(?P<code>.*?)```(?:\s*```text\n(?P<out>.*?)```)?", re.S)
NAMESPACES: dict[Path, dict] = {}


def blocks(page: Path) -> list[tuple[int, str, str | None]]:
    text = page.read_text()
    return [(text[: m.start()].count("\n") + 1, m["code"], m["out"]) for m in BLOCK.finditer(text)]


def _requires(code: str) -> str | None:
    first = code.lstrip().splitlines()[0] if code.strip() else ""
    m = re.match(r"#\s*requires:\s*(\w+)", first)
    return m.group(1) if m else None


def run_block(page: Path, code: str) -> str:
    namespace = NAMESPACES.setdefault(page, {"__name__": f"docs:{page.name}"})
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(code, str(page), "exec"), namespace)
    return buffer.getvalue()


def _params():
    from conftest import keras_framework, requested_frameworks

    wanted = requested_frameworks()
    out = []
    for page in PAGES:
        for line, code, expected in blocks(page):
            need = _requires(code)
            marks = []
            if need in frameworks.names() and need not in wanted:
                marks = [pytest.mark.skip(reason=f"{need} not requested (WCE_FRAMEWORKS)")]
            elif need == "keras" and keras_framework() is None:
                marks = [pytest.mark.skip(reason="no keras-<backend> of this process requested (WCE_FRAMEWORKS)")]
            elif need is not None and need not in frameworks.names() and need != "keras":
                marks = [pytest.mark.skip(reason=f"illustration: needs {need}")]
            out.append(pytest.param(page, code, expected, id=f"{page.name}:{line}", marks=marks))
    return out


@pytest.mark.parametrize(("page", "code", "expected"), _params())
def test_snippet_runs_and_prints_what_the_page_says(page, code, expected):
    printed = run_block(page, code)
    if expected is not None:
        assert printed == expected, f"{page.name}: the snippet printed\n{printed}\nthe page says\n{expected}"


def fill(page: Path) -> None:
    """Rewrite the text blocks of ``page`` with what its snippets print (every framework installed)."""
    text = page.read_text()

    def replace(m: re.Match) -> str:
        printed = run_block(page, m["code"])
        return m.group(0) if m["out"] is None else f"```python\n{m['code']}```\n```text\n{printed}```"

    page.write_text(BLOCK.sub(replace, text))


if __name__ == "__main__" and sys.argv[1:2] == ["--fill"]:
    for arg in sys.argv[2:]:
        fill(Path(arg).resolve())


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_relative_links_resolve(page):
    """Every relative link of the README and the docs/ pages names a file of the checkout."""
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text())
    missing = [u for u in links if not re.match(r"[a-z]+:", u) and not (page.parent / u).exists()]
    assert not missing, f"{page.name}: {missing}"


def test_readme_fits_a_first_screen():
    """The two set-up commands (the main job, and the tests as .ci/run runs them) within the first 30 lines."""
    head = (ROOT / "README.md").read_text().splitlines()[:30]
    ci = (ROOT / ".ci" / "run").read_text().replace(" --quiet", "")
    assert "python3 -m pip install tox && python3 -m tox" in ci
    assert 'python3 -m pip install ".[all]" && python3 -m wce_ref run' in head
    assert "python3 -m pip install tox && python3 -m tox" in head


def _readme_answers() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split("## What it answers", 1)[1].split("\n## ", 1)[0]


def test_readme_suite_figures_are_the_committed_reports():
    """The README's default-suite differences are those of ``reports/compare-default.md``, to 2 decimals."""
    answers = _readme_answers()
    report = (ROOT / "reports" / "compare-default.md").read_text()
    quoted = re.findall(r"(recall|balanced\s+accuracy)\s+\(([+-]\d\.\d\d)\)", answers)
    assert {" ".join(name.split()) for name, _ in quoted} == {"recall", "balanced accuracy"}, answers
    for name, figure in quoted:
        metric = "_".join(name.split())
        found = re.search(rf"^- {metric}: families won .*?mean difference ([+-]\d\.\d+)", report, re.M)
        assert found, f"no WCE-against-CE line for {metric} in compare-default.md"
        assert f"{float(found.group(1)):+.2f}" == figure, (metric, found.group(1), figure)


def test_readme_agreement_bounds_are_the_committed_report():
    """The README's "within N ULP" bounds are the committed agreement report's worst cell of this project's
    losses (implementations without a dot), per dtype, rounded up."""
    import math

    answers = _readme_answers()
    claimed = re.search(r"within (\d+) ULP of the oracle in float64 and (\d+) ULP in float32", answers)
    assert claimed, answers
    rows = [line.split("|")[1:-1] for line in (ROOT / "reports" / "agreement.md").read_text().splitlines()
            if line.startswith("| ") and not line.startswith("| implementation")]
    ours = [[c.strip() for c in r] for r in rows if len(r) == 7 and "." not in r[0] and r[3].strip()[:1].isdigit()]
    worst = [max(float(r[col].split()[0]) for r in ours if r[col].split()[0] != "-") for col in (3, 4)]
    assert [int(claimed.group(1)), int(claimed.group(2))] == [math.ceil(w) for w in worst], worst
    cells = re.search(r"\*\*(\d+) cells: .*?(\d+) fail\.\*\*", (ROOT / "reports" / "agreement.md").read_text())
    quoted = re.search(r"\(([\d,]+) cells, (\d+) failed\)", answers)
    assert cells and quoted, answers
    assert (int(quoted.group(1).replace(",", "")), quoted.group(2)) == (int(cells.group(1)), cells.group(2))
