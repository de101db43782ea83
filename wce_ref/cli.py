"""The ``wce`` command line."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import frameworks

if TYPE_CHECKING:
    from ._eta import ProgressLine

#: the environment variable that moves every command's default output directory
OUT_ENV = "WCE_OUT"
#: every command's default output directory (git-ignored): the committed ``reports/`` change only with ``--out reports``
DEFAULT_OUT = "out"
#: where the committed suite stores live; ``wce report compare`` reads one when OUT holds none


def default_out() -> str:
    """The default ``--out`` of every command: ``$WCE_OUT`` when set, else ``out`` (git-ignored).

    Returns
    -------
    str
        The directory, relative to the current directory unless ``WCE_OUT`` is absolute.
    """
    return os.environ.get(OUT_ENV) or DEFAULT_OUT


def _csv(text: str) -> list[str]:
    return [t for t in (s.strip() for s in text.split(",")) if t]


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (0 and negatives are errors, not "use the default")."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer; received {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; received {text!r}")
    return value


def check_out(out: str) -> Path:
    """``--out``: a directory, or a path one can create; checked before any work."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out: {out} is a file; give a directory for the reports")
    existing = next(p for p in [path, *path.resolve().parents] if p.exists())
    if not existing.is_dir():
        raise ValueError(f"--out: cannot create {out}: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"--out: cannot write in {existing} (permission denied)")
    return path


def installed_frameworks(*, elsewhere: bool = False) -> list[str]:
    """Registered frameworks that import (``elsewhere``: also those that run in a process of their own, Keras on
    another backend); the others are reported as skipped."""
    found = []
    for name in frameworks.names():
        backend = frameworks.get(name)
        if backend.installed() if elsewhere else backend.available():
            found.append(name)
        else:
            print(f"wce: skipping framework {name!r}: {backend.skip_reason()}", file=sys.stderr)
    return found


def _print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=False)))


def _report_name(name: str | None) -> str:
    """``--name``: a plain file stem (letters, digits, ``-``, ``_``), e.g. ``agreement-gpu``."""
    name = name or "agreement"
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ValueError(f"--name: a file stem of letters, digits, '-' and '_' is expected, got {name!r}")
    return name


def cmd_check(args: argparse.Namespace) -> int:
    from . import check

    out, report_name = check_out(args.out), _report_name(args.name)  # bad arguments fail before the matrix runs
    names = [frameworks.resolve(n) for n in _csv(args.frameworks)] if args.frameworks else \
        installed_frameworks(elsewhere=True)
    for name in names:  # requested but broken: a clear error, not a skip (in its own process: when it runs)
        if frameworks.get(name).isolation() is None:
            frameworks.get(name).load()
    dtypes = check.check_dtypes(_csv(args.dtypes)) if args.dtypes else None
    devices = check.check_devices(names, _csv(args.devices)) if args.devices else None
    results, info = check.run_matrix(names, dtypes=dtypes, devices=devices, show_progress=not args.quiet)
    header, rows = check.summary_table(results)
    _print_table(header, rows)
    md, html, js = check.write_reports(results, info, out, name=report_name)
    failed = sum(r.status == "fail" for r in results)
    print(f"\n{len(results)} cells, {failed} failed; wrote {md}, {html} and {js}")
    return 1 if failed else 0


def cmd_run(args: argparse.Namespace) -> int:
    """The tour on the embedded defaults: agreement matrix, quick benchmarks, the ``tour`` suite, then the answers.

    Everything goes to ``--out`` (default :func:`default_out`, git-ignored): the committed
    ``reports/`` change only when a command is pointed at them. A stage that finished is recorded
    (:mod:`wce_ref.tour`) and skipped when the command runs again; the suite resumes at its next cell.
    """
    from . import tour

    out = check_out(args.out)
    tour.quiet_environment(out)  # before any framework is imported
    print(f"wce run: writing every report and the suite's store to {out}/ (choose another with --out DIR)")
    with tour.stderr_to(out / "frameworks.log"):  # their import notices (oneDNN, CUDA probes) go to the log
        names = [n for n in frameworks.names() if frameworks.get(n).available()]
    for name in sorted(set(frameworks.names()) - set(names)):
        print(f"wce run: skipping framework {name!r}: {frameworks.get(name).skip_reason()}")
    terminal = tour.terminal()  # stderr as it is now: the progress line's, while fd 2 goes to the log
    line = tour.progress_line(names, args.quiet, stream=terminal)  # one line for the three stages
    stages = [
        ("agreement", "agreement of every installed framework with the oracle (float64, float32)",
         lambda: _tour_agreement(args, out, names, line)),
        ("speed", "speed benchmarks, quick profile", lambda: _tour_speed(args, out, names, line)),
        ("suite", f"the `{tour.SUITE}` suite: does weighting help, against resampling and a tuned threshold?",
         lambda: _tour_suite(args, out, line)),
    ]  # fmt: skip
    try:
        with tour.stderr_to(out / "frameworks.log"):  # what frameworks print while they run (CUDA probes on first use)
            done = tour.run_stages(stages, out, names, line)
    except KeyboardInterrupt as exc:
        print(f"wce run: {str(exc) or 'interrupted'}; the finished stages and cells are kept in {out}/: run it again "
              "to go on where it stopped", file=sys.stderr)  # fmt: skip
        exc.notice_printed = True  # the stages' own notices went to the log
        raise
    finally:
        terminal.close()
    tour.print_summary(done, out)
    failed = sum(s["failed"] for s in done["agreement"]["frameworks"].values())
    return 1 if failed else 0


def _tour_agreement(args: argparse.Namespace, out: Path, names: list[str], line: ProgressLine | None = None) -> dict:
    """`wce run`'s first stage: the matrix in float64 and float32 (half precisions are `wce check`'s); each cell
    is journalled in ``OUT/.agreement-cells.jsonl``, so an interrupted stage resumes at its next cell."""
    from . import check, tour

    for name in names:
        frameworks.get(name).load()
    journal = out / ".agreement-cells.jsonl"
    progress = None if line is None else (lambda done, total: _stage_count(line, "agreement", done, total))
    results, info = check.run_matrix(names, dtypes=["float64", "float32"], show_progress=False,
                                     on_progress=progress, journal=journal)  # fmt: skip
    md, _, _ = check.write_reports(results, info, out)
    journal.unlink(missing_ok=True)  # the stage is recorded as finished: its report holds the cells
    return {"frameworks": tour.agreement_summary(results), "report": str(md)}


def _stage_count(line: ProgressLine, stage: str, done: int, total: int) -> None:
    """A stage's (cells finished, cells) told to the run's progress line: the first count starts the stage."""
    s = line.eta.stages[stage]
    if s.cells is None or s.cells != total:
        line.start(stage, total, done)
    elif done > s.done:
        line.advance(stage, done - s.done)
    if done == total:
        line.clear()  # what the stage prints next ("wrote ...") starts on a clean line


def _tour_speed(args: argparse.Namespace, out: Path, names: list[str], line: ProgressLine | None = None) -> dict:
    """`wce run`'s second stage: the quick benchmarks, pytest's own output kept in ``OUT/bench-quick.log``."""
    from . import tour

    try:
        import pytest_benchmark  # noqa: F401
    except ImportError:
        return {"skipped": "pytest-benchmark is not installed (pip install 'wce-ref[bench]')"}
    bench = build_parser().parse_args(["bench", "--out", str(out), "--frameworks", ",".join(names),
                                       *(["--quiet"] if args.quiet else [])])  # fmt: skip
    bench.log = out / "bench-quick.log"
    bench.on_progress = None if line is None else (lambda done, total: _stage_count(line, "speed", done, total))
    rc = cmd_bench(bench)
    if rc:
        raise ValueError(f"wce run: the benchmarks failed (exit status {rc}); their output is in {bench.log}")
    return {"ratios": tour.speed_summary(out / "bench-quick.json"), "report": str(out / "speed-cpu.md")}


def _tour_suite(args: argparse.Namespace, out: Path, line: ProgressLine | None = None) -> dict:
    """`wce run`'s third stage: the ``tour`` suite into ``OUT/compare-tour.sqlite`` (resumable) and its report."""
    from . import compare, tour
    from .compare.analysis._reporting import render

    suite = compare.load_suite(tour.SUITE)
    db = out / f"compare-{suite.name}.sqlite"
    with tour.suite_progress(line, suite):  # the engine's cells counted on the run's line, not its own bar
        summary = compare.run(suite, db=db, jobs=min(2, os.cpu_count() or 1), show_progress=not args.quiet)
    if line is not None:
        line.clear()
    print(summary.line())
    if summary.failed:
        raise ValueError(f"suite {suite.name}: {summary.failed} cell(s) failed; `wce run` again retries them")
    md, _ = render(summary.suite, db, out)
    return {"report": str(md), "headline": tour.suite_headline(md)}


def cmd_datasets(args: argparse.Namespace) -> int:
    from . import datasets

    if args.action == "show":
        for name in args.names or []:
            print(datasets.info(name).card())
        if not args.names:
            raise ValueError("NAME: `wce datasets show` needs a dataset name")
        return 0
    if args.action == "fetch":
        for name in args.names or []:
            print(f"{name}: {datasets.fetch(name)}")
        return 0
    if args.action == "load":
        if not args.names or not args.target:
            raise ValueError("`wce datasets load PATH --target COLUMN [--positive LABEL | --rule '<= 4']`")
        d = datasets.load_file(args.names[0], args.target, positive=args.positive, rule=args.rule)
        print(d.info.card())
        s = d.summary()
        print(
            f"  loaded         {s['rows']:,} rows x {s['features']} features, {s['minority']:,} positive, IR {s['IR']}"
        )
        return 0
    collections = sorted({i.collection for i in datasets.registry().values()})
    if args.collection is not None and args.collection not in collections:
        raise ValueError(f"--collection: unknown collection {args.collection!r}; known: {', '.join(collections)}")
    rows = datasets.list_datasets(args.collection)
    if args.available:
        rows = [r for r in rows if r["availability"] in ("offline", "cached")]
    header = ["name", "collection", "task", "rows", "features", "classes", "counts", "minority", "IR", "availability"]
    _print_table(header, [["-" if r[h] is None else r[h] for h in header] for r in rows])
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["availability"]] = counts.get(r["availability"], 0) + 1
    print(f"\n{len(rows)} datasets: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    if datasets.mirror_dir() is None:
        print(f"no offline mirror found; set {datasets.MIRROR_ENV} to a directory like ../shared/datasets")
    return 0


def _dataset_file(args: argparse.Namespace) -> list[dict] | None:
    """``--dataset-file PATH --target COLUMN [--positive LABEL | --rule RULE]`` as a suite's file entry."""
    if args.dataset_file is None:
        for option in ("target", "positive", "rule"):
            if getattr(args, option) is not None:
                raise ValueError(f"--{option} needs --dataset-file PATH (the file whose column it names)")
        return None
    if args.datasets:
        raise ValueError("--dataset-file replaces the suite's datasets; give it or --datasets, not both")
    if args.target is None:
        raise ValueError(f"--dataset-file {args.dataset_file}: give the target column with --target COLUMN")
    if args.positive is not None and args.rule is not None:
        raise ValueError("--positive and --rule: give one of them (or neither: the rarer of two values)")
    entry = {"path": args.dataset_file, "target": args.target, "positive": args.positive, "rule": args.rule}
    return [{k: v for k, v in entry.items() if v is not None}]


def cmd_compare(args: argparse.Namespace) -> int:
    from . import compare

    out = check_out(args.out)
    suite = compare.load_suite(
        args.suite,
        datasets=_csv(args.datasets) if args.datasets else None,
        strategies=_csv(args.strategies) if args.strategies else None,
        models=_csv(args.models) if args.models else None,
        frameworks=[frameworks.resolve(f) for f in _csv(args.framework)] if args.framework else None,
        folds=args.folds,
        repeats=args.repeats,
        dataset_files=_dataset_file(args),
    )
    db = args.db or str(out / f"compare-{suite.name}.sqlite")
    reuse = list(args.reuse or ())
    committed = compare.committed_export(suite.name)
    if not args.db and not Path(db).exists() and committed is not None and committed.parent.resolve() != out.resolve():
        print(f"starting from the committed results {committed} (its cells are copied in, the rest run)")
        reuse.append(str(committed))
    summary = compare.run(
        suite, db=db, jobs=args.jobs, scheduler=args.scheduler, show_progress=not args.quiet, reuse=reuse
    )
    print(summary.line())
    if not args.no_report:
        from .compare.analysis._reporting import render

        md, html = render(summary.suite, db, out)
        print(f"wrote {md}, {html} and {compare.export(db, out / f'compare-{suite.name}{compare.EXPORT_SUFFIX}')}")
    return 1 if summary.failed else 0


def _benchmarks_dir() -> Path:
    here = Path(__file__).resolve().parents[1] / "benchmarks"
    for d in (Path.cwd() / "benchmarks", here):
        if (d / "test_losses.py").exists():
            return d
    raise ValueError(f"benchmarks/: not found in {Path.cwd()} or {here.parent}; run from the wce-ref checkout")


def _bench_command(bench_dir: Path, json_path: Path, extra: list[str]) -> list[str]:
    """The pytest-benchmark command line of ``wce bench`` (``extra``: the arguments after ``--``)."""
    return [sys.executable, "-m", "pytest", str(bench_dir / "test_losses.py"), "-q", "-p", "no:cacheprovider",
            f"--rootdir={bench_dir}", "-o", "addopts=", f"--benchmark-json={json_path}", "--benchmark-sort=name",
            "--benchmark-columns=median,iqr,rounds", "--benchmark-group-by=group", *extra]  # fmt: skip


def cmd_bench(args: argparse.Namespace) -> int:
    import subprocess

    try:
        import pytest_benchmark  # noqa: F401
    except ImportError as exc:
        raise ValueError("wce bench needs pytest-benchmark: pip install 'wce-ref[bench]'") from exc
    profile = "full" if args.full else "quick"
    names = [frameworks.resolve(n) for n in _csv(args.frameworks)] if args.frameworks else installed_frameworks()
    for name in names:
        frameworks.get(name).load()
    out = check_out(args.out)
    out.mkdir(parents=True, exist_ok=True)
    json_path = (Path(args.json) if args.json else out / f"bench-{profile}.json").resolve()
    env = {
        **os.environ,
        "WCE_BENCH_PROFILE": profile,
        "WCE_FRAMEWORKS": ",".join(names),
        "WCE_BENCH_PROGRESS": "0" if args.quiet else "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    for key, value in (
        ("WCE_BENCH_THREADS", args.threads),
        ("WCE_BENCH_DEVICES", args.devices),
        ("WCE_BENCH_DTYPES", args.dtypes),
    ):
        if value:
            env[key] = str(value)
    bench_dir = _benchmarks_dir()
    cmd = _bench_command(bench_dir, json_path, args.pytest_args or [])
    print(f"wce bench: {profile} profile, frameworks {', '.join(names)} -> {json_path}", file=sys.stderr)
    log = getattr(args, "log", None)  # `wce run`: pytest's tables and the frameworks' notices to a file
    on_progress = getattr(args, "on_progress", None)  # `wce run`: the counts go to its progress line
    if log is None:
        rc = subprocess.call(cmd, env=env, cwd=bench_dir)
    elif on_progress is not None:
        from .tour import call_filtered

        env["WCE_BENCH_PROGRESS"] = "lines"
        rc = call_filtered(cmd, log, r"wce-bench-progress \d+/\d+", env=env, cwd=bench_dir,
                           on_match=lambda b: on_progress(*map(int, b.split()[1].split(b"/"))))  # fmt: skip
    else:
        from .tour import call_filtered

        rc = call_filtered(cmd, log, r"\r?bench", env=env, cwd=bench_dir)
    if rc != 0:
        return rc
    print(f"wrote {json_path}")
    if not args.no_report:
        from .bench.report import render

        for p in render([json_path], out):
            print(f"wrote {p}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """``wce report compare | check | speed``: a report rendered again from its stored data."""
    if args.kind == "compare":
        return _report_compare(args)
    if args.kind == "check":
        return _report_check(args)
    from .bench import report as bench_report

    return bench_report.main(args)


def _report_compare(args: argparse.Namespace) -> int:
    from .compare import EXPORT_SUFFIX, check_data_quiet, export, load_suite, report_store
    from .compare.analysis._reporting import render

    suite = check_data_quiet(load_suite(args.target or "default"))
    db = Path(args.db) if args.db else report_store(suite.name, args.out)
    check_out(args.out)
    md, html = render(suite, db, args.out, previous=args.previous)
    dest = Path(args.out) / f"compare-{suite.name}{EXPORT_SUFFIX}"
    if dest.resolve() != db.resolve():  # the report's data beside it, compact
        export(db, dest)
    print(f"wrote {md} and {html} from {db}")
    return 0


def _report_check(args: argparse.Namespace) -> int:
    """``wce report check [NAME.json]`` (default ``OUT/agreement.json``): ``NAME.md`` / ``.html`` in OUT."""
    from . import check

    if args.more:
        raise ValueError("wce report check: one agreement JSON (NAME.json) is expected")
    out = check_out(args.out)
    source = Path(args.target) if args.target else out / "agreement.json"
    md, html = check.rerender(source, out)
    print(f"wrote {md} and {html} from {source}")
    return 0


def _out_help(out: str) -> str:
    return (f"directory for the reports (default: {out}/, git-ignored; ${OUT_ENV} changes the default); "
            "the committed reports change only with an explicit --out reports")  # fmt: skip


def _add_common(p: argparse.ArgumentParser) -> None:
    """``--out`` and ``--quiet``, as every command that runs something takes them."""
    p.add_argument("--out", default=default_out(), help=_out_help(default_out()))
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_run(sub) -> None:
    p = sub.add_parser("run", help=f"run every capability on built-in defaults and write {default_out()}/")
    _add_common(p)
    p.set_defaults(func=cmd_run)


def _add_check(sub) -> None:
    p = sub.add_parser("check", help="agreement matrix against the high-precision oracle")
    p.add_argument("--frameworks", help=f"comma-separated, from {frameworks.names()} (default: installed ones)")
    p.add_argument("--dtypes", help="comma-separated, e.g. float64,float32 (default: all supported)")
    p.add_argument("--devices", help="comma-separated, e.g. cpu,cuda (default: all present)")
    p.add_argument("--name", help="report file stem in OUT (default: agreement; e.g. agreement-gpu)")
    _add_common(p)
    p.set_defaults(func=cmd_check)


def _add_datasets(sub) -> None:
    p = sub.add_parser("datasets", help="list, describe, fetch or load datasets")
    p.add_argument("action", nargs="?", default="list", choices=["list", "show", "fetch", "load"])
    p.add_argument("names", nargs="*", help="dataset names (show, fetch) or a CSV/Parquet path (load)")
    p.add_argument("--collection", help="only this collection (zenodo, mirror, keel, openml, builtin)")
    p.add_argument("--available", action="store_true", help="only datasets available without a download")
    p.add_argument("--target", help="load: the target column")
    p.add_argument("--positive", help="load: the positive (minority) label")
    p.add_argument("--rule", help="load: a target rule such as '<= 4', '== Z' or 'in a,b'")
    p.set_defaults(func=cmd_datasets)


def _add_compare(sub) -> None:
    p = sub.add_parser("compare", help="run a task suite: WCE vs resampling and cost-sensitive learning")
    p.add_argument("suite", nargs="?", default="default", help="suite name (suites/NAME.toml) or a .toml path")
    p.add_argument("--datasets", help="comma-separated dataset names (replace the suite's)")
    p.add_argument("--strategies", help="comma-separated strategy names (replace the suite's)")
    p.add_argument("--models", help="comma-separated: linear, mlp, sklearn_lr")
    p.add_argument("--framework", help="comma-separated frameworks to train with (numpy, torch, jax, tensorflow)")
    p.add_argument("--folds", type=_positive_int, help="override the protocol's folds (at least 2)")
    p.add_argument("--repeats", type=_positive_int, help="override the protocol's repeats")
    p.add_argument("--jobs", type=_positive_int, default=min(2, os.cpu_count() or 1), help="local worker processes")
    p.add_argument("--scheduler", help="Dask scheduler address (tcp://host:8786): run the cells on that cluster")
    p.add_argument(
        "--db",
        help="SQLite results store (default: OUT/compare-SUITE.sqlite; a new default store starts from the committed "
        "export reports/compare-SUITE.sqlite.xz when there is one); reruns resume",
    )
    p.add_argument(
        "--reuse",
        action="append",
        metavar="STORE",
        help="copy the cells this suite needs from another suite's store when they have the same configuration "
        "(hash, dataset, strategy, model, fold, seed) instead of running them; a .sqlite.xz export works too (resume "
        "from committed results); repeatable",
    )
    p.add_argument("--no-report", action="store_true", help="only run, do not render the report")
    p.add_argument("--dataset-file", help="run the suite on your CSV / TSV / Parquet file instead of its datasets")
    p.add_argument("--target", help="--dataset-file: the target column")
    p.add_argument("--positive", help="--dataset-file: the positive (minority) label (default: the rarer value)")
    p.add_argument("--rule", help="--dataset-file: a target rule such as '<= 4' instead of --positive")
    _add_common(p)
    p.set_defaults(func=cmd_compare)


def _add_bench(sub) -> None:
    p = sub.add_parser("bench", help="speed benchmarks (pytest-benchmark), quick profile by default")
    p.add_argument("--full", action="store_true", help="the whole grid (every size, loss, dtype)")
    p.add_argument("--frameworks", help="comma-separated (default: installed ones)")
    p.add_argument("--devices", help="comma-separated, e.g. cpu or cuda (default: all present)")
    p.add_argument("--dtypes", help="comma-separated (default: float32; the full grid adds bfloat16 on a GPU)")
    p.add_argument("--threads", type=_positive_int, help="CPU threads for every framework (default: all cores)")
    p.add_argument("--json", help="output JSON (default: OUT/bench-PROFILE.json)")
    p.add_argument("--no-report", action="store_true", help="only save the JSON")
    p.add_argument("pytest_args", nargs="*", help="extra pytest arguments after --, e.g. -- -k torch")
    _add_common(p)
    p.set_defaults(func=cmd_bench)


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="render reports from stored runs")
    p.add_argument("kind", choices=["compare", "check", "speed"])
    p.add_argument("target", nargs="?", help="compare: the suite name; check: the agreement JSON (default: "
                   "OUT/agreement.json); speed: benchmark JSON files")  # fmt: skip
    p.add_argument("more", nargs="*", help="speed: more benchmark JSON files")
    p.add_argument(
        "--previous",
        metavar="STORE",
        help="compare: a store (or .sqlite.xz export) of the suite under its previous protocol; the report adds "
        "what the protocol change moved",
    )
    p.add_argument(
        "--db",
        help="compare: the results store, SQLite or its .sqlite.xz export (default: OUT/compare-SUITE.sqlite, else "
        "the committed reports/compare-SUITE.sqlite.xz); the export is written beside the report",
    )
    p.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"), help="speed: per-benchmark ratios of two runs")
    p.add_argument("--threshold", type=float, default=1.10, help="speed --compare: flag slowdowns above this ratio")
    p.add_argument("--out", default=default_out(), help=_out_help(default_out()))
    p.set_defaults(func=cmd_report)


def build_parser() -> argparse.ArgumentParser:
    """The ``wce`` parser: one sub-parser per command, each added by its ``_add_<command>``."""
    parser = argparse.ArgumentParser(
        prog="wce",
        description="Weighted cross entropy: reference, agreement, benchmarks. Every command writes to "
        f"--out (default: {default_out()}/, git-ignored; ${OUT_ENV} changes it); the committed reports/ "
        "change only with an explicit --out reports.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_run, _add_check, _add_datasets, _add_compare, _add_bench, _add_report):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, KeyError, OSError, frameworks.FrameworkUnavailable) as exc:
        print(f"wce: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM during `wce compare`: stopped, no traceback
        if not getattr(exc, "notice_printed", False):  # one notice: `wce compare` words its own (where to resume)
            print(f"wce: {str(exc) or 'interrupted'}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 130))
    except BrokenPipeError:  # `wce datasets | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
