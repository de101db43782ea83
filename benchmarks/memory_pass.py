"""Peak memory of benchmarks already timed: ``python benchmarks/memory_pass.py BENCH.json [--min-elements N]``.

For every benchmark of the JSON (optionally only those from ``N`` logits up)
that has no ``peak_bytes`` yet, build the same callable as ``test_losses.py``
(inputs, compilation, warm-up), call it once more and record its peak memory
(:func:`wce_ref.bench.peak_bytes`) in the benchmark's ``extra_info``. Times are
not touched. ``test_losses.py`` records the same figure in the timed run
itself; this pass completes a JSON written without it. Run it with
``MALLOC_MMAP_THRESHOLD_=65536`` so that glibc maps (and unmaps) every block
above 64 KiB: a freed block then leaves the resident set, and the next call's
allocations show in its peak instead of reusing cached heap pages.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from wce_ref import bench, frameworks
from wce_ref.losses import threads


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", type=Path)
    ap.add_argument("--min-elements", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--losses", help="comma-separated (default: every loss in the JSON)")
    ap.add_argument("--directions", default="fwd,fwd+bwd", help="comma-separated (default: fwd,fwd+bwd)")
    args = ap.parse_args(argv)
    data = json.loads(args.json.read_text())
    todo = [b for b in data["benchmarks"] if b["extra_info"].get("peak_bytes") is None
            and b["extra_info"]["n"] * b["extra_info"]["c"] >= args.min_elements
            and (not args.losses or b["extra_info"]["loss"] in args.losses.split(","))
            and b["extra_info"]["direction"] in args.directions.split(",")]
    for i, b in enumerate(todo, 1):
        e = b["extra_info"]
        case = bench.BenchCase(**{k: e[k] for k in ("framework", "impl", "loss", "direction", "mode", "dtype",
                                                    "device", "n", "c")})
        backend = frameworks.get(case.framework)
        backend.set_threads(args.threads)
        fn = bench.make_callable(case)
        fn()
        e["peak_bytes"], e["memory_method"] = bench.peak_bytes(fn, backend, case.device)
        e["memory_pass"] = "benchmarks/memory_pass.py"
        print(f"[{i}/{len(todo)}] {case.id}: {e['peak_bytes']}", file=sys.stderr, flush=True)
        args.json.write_text(json.dumps(data))  # resumable: each result is saved at once
    print(f"numpy reference threads in this environment: {threads()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
