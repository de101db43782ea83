"""The GPU pass of the fused Triton kernel: its correctness on CUDA, then its speed against the built-ins.

usage: python benchmarks/gpu_pass.py --out DIR [--budget SECONDS] [--dry-run]

``--budget``: the whole run's seconds; the speed measurements stop where too little is left to finish.

One process, run by ``benchmarks/gpu_pass.sh`` as one call on a GPU machine (about 8 minutes in all):

1. the environment (device, versions) and a measured device-to-device copy bandwidth;
2. correctness: the agreement matrix's ``softmax_wce`` cells on CUDA (``torch``, which now runs the kernel,
   ``torch-triton`` and ``torch.cross_entropy``; float32 and bfloat16, every reduction, against the mpmath
   oracle; float16 and float64 are checked on the CPU through Triton's interpreter, in the tests), the
   kernel at the benchmark sizes against a float64 computation, and one call of the kernel's forward and
   backward under ``torch.cuda.set_sync_debug_mode("error")`` (no host synchronisation);
3. speed: forward and forward + backward at 1,048,576 x 32, 262,144 x 32 and 8,192 x 131,072, float32 and
   bfloat16, for the kernel (through the front end and alone), the front end under ``torch.compile`` (the
   operations-table formula), ``F.cross_entropy`` eager and compiled, and Liger-Kernel and quack where they
   import (the GPU machine has no internet: carry their wheels in ``.whl``, see ``gpu_pass.sh``); each as the
   median time, the bytes moved over that time, that as a share of the measured copy bandwidth, and the peak
   memory. Measurements run most-wanted first and stop at the time budget; what was not run says so.

It writes ``speed-gpu.md`` and ``speed-gpu.json`` (and ``agreement-gpu-softmax.md``/``.json``) into DIR. It
refuses to run without a CUDA device (exit status 2) and exits 1 when a correctness check fails; no figure is
ever written that was not measured. ``--dry-run`` runs the same code on the CPU at tiny sizes, the kernel
through Triton's interpreter, and writes ``speed-gpu-DRYRUN.md``: a test of this script, never GPU figures.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

GPU_SIZES = [(1048576, 32), (262144, 32), (8192, 131072)]
DRY_SIZES = [(256, 32), (4, 300)]
DTYPES = ("float32", "bfloat16")
DIRECTIONS = ("fwd+bwd", "fwd")
#: the name suffix of the implementations timed as replayed CUDA graphs
GRAPH = ", CUDA graph"
#: the headline: the kernel's forward + backward at this size moves at least this share of the copy bandwidth
HEADLINE = ((1048576, 32), "float32", "fwd+bwd", 0.80)


def _torch():
    import torch

    return torch


# ---------------------------------------------------------------------------------------------- environment


def environment(device: str, dry_run: bool) -> dict[str, Any]:
    """Versions, device name and the date."""
    torch = _torch()
    from wce_ref.frameworks import _torch_triton

    info: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "triton": _torch_triton.status()[1],
        "device": torch.cuda.get_device_name(0) if device == "cuda" else f"CPU ({platform.machine()})",
        "dry_run": dry_run,
    }
    for name in ("liger_kernel", "quack"):
        info[name] = _version(name)
    return info


def _version(module: str) -> str:
    """A package's version, or why it is not there."""
    try:
        mod = __import__(module)
    except Exception as exc:
        return f"not importable ({type(exc).__name__}: {str(exc)[:120]})"
    return str(getattr(mod, "__version__", "unknown version"))


def copy_bandwidth(device: str) -> float:
    """Device-to-device copy bandwidth in bytes/s (bytes read plus written), the median of 10 copies of 1 GiB
    (64 MiB on the CPU)."""
    torch = _torch()
    n = (1 << 30 if device == "cuda" else 1 << 26) // 4
    src = torch.empty(n, dtype=torch.float32, device=device).uniform_()
    dst = torch.empty_like(src)
    t = _time(lambda: dst.copy_(src), device, reps=10, inner=1)
    return 2 * src.numel() * 4 / t


def _time(fn: Callable[[], Any], device: str, *, reps: int = 7, inner: int | None = None) -> float:
    """Median seconds per call of ``fn`` (after two warm-up calls), CUDA events on a GPU."""
    torch = _torch()
    fn()
    fn()
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    sync()
    if inner is None:  # about 20 ms per repetition
        t0 = time.perf_counter()
        fn()
        sync()
        inner = max(1, min(200, int(0.02 / max(time.perf_counter() - t0, 1e-6))))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        if device == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(inner):
                fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3 / inner)
        else:
            for _ in range(inner):
                fn()
            times.append((time.perf_counter() - t0) / inner)
    return statistics.median(times)


# ---------------------------------------------------------------------------------------------- correctness


def agreement_cells(device: str, dry_run: bool, out: Path) -> dict[str, Any]:
    """The matrix's softmax_wce cells of torch on ``device`` against the oracle; writes the agreement report."""
    from wce_ref import agreement, check

    dtypes = ["float32"] if dry_run else ["float32", "bfloat16"]  # float16, float64: the CPU matrix (interpreter)
    cells = agreement.enumerate_cells(["torch"], devices=[device], dtypes=dtypes, losses=["softmax_wce"])
    if dry_run:
        cells = [c for c in cells if c.impl == "torch-triton"]
    results = [agreement.run_cell(c) for c in cells]
    check.write_reports(results, agreement.runtime_info(["torch"]), out, name="agreement-gpu-softmax")
    rows = [{"cell": r.cell.id, "status": r.status, "worst_ulp": r.worst()[0], "at": r.worst()[1]} for r in results]
    return {"cells": rows, "failed": [r["cell"] for r in rows if r["status"] == "fail" or r["status"] == "n/a"]}


def _reference64(x, y, w, eps: float, ignore: int, reduction: str):
    """Value and gradient in float64 through ``F.cross_entropy`` (the same convention as the kernel's)."""
    torch = _torch()
    x64 = x.detach().double().requires_grad_(True)
    value = torch.nn.functional.cross_entropy(
        x64, y, weight=None if w is None else w.double(), label_smoothing=eps, ignore_index=ignore,
        reduction={"weighted_mean": "mean"}.get(reduction, reduction))
    (grad,) = torch.autograd.grad(value, x64)
    return value.detach(), grad


def _ulps(got, exact, dtype: str) -> float:
    """Norm-wise error in ULPs of ``dtype`` at the largest exact magnitude (as the agreement matrix measures)."""
    import numpy as np

    from wce_ref import oracle

    got, exact = got.detach().double().cpu().numpy(), exact.detach().double().cpu().numpy()
    scale = float(np.abs(exact).max()) if exact.size else 0.0
    return float(np.abs(got - exact).max() / oracle.ulp(scale, dtype)) if exact.size else 0.0


def large_checks(device: str, sizes: list[tuple[int, int]], max_tile: int) -> list[dict[str, Any]]:
    """The kernel at the benchmark sizes (one-tile and looped kernels) against float64, float32 and bfloat16."""
    torch = _torch()
    from wce_ref.agreement import TOLERANCE_ULP
    from wce_ref.frameworks import _torch_triton as tt

    rows = []
    gen = torch.Generator(device=device).manual_seed(0)
    for (n, c), dtype, opts in [(s, d, o) for s in sizes for d in DTYPES for o in ("plain", "w+eps+ignore")]:
        x = (torch.randn(n, c, device=device, generator=gen) * 3).to(getattr(torch, dtype))
        y = torch.randint(0, c, (n,), device=device, generator=gen)
        w, eps, red = None, 0.0, "sum"
        if opts != "plain":
            w, eps, red = torch.rand(c, device=device, generator=gen) + 0.5, 0.1, "weighted_mean"
            y[::7] = -100
        xg = x.detach().requires_grad_(True)
        value = tt.softmax_wce(xg, y, class_weights=w, label_smoothing=eps, ignore_index=-100, reduction=red,
                               max_tile=max_tile)
        (grad,) = torch.autograd.grad(value, xg)
        ref_v, ref_g = _reference64(x, y, w, eps, -100, red)
        v_ulp, g_ulp = _ulps(value, ref_v, dtype), _ulps(grad, ref_g, dtype)
        tol = TOLERANCE_ULP[dtype]
        rows.append({"size": f"{n}x{c}", "dtype": dtype, "options": opts, "reduction": red, "value_ulp": v_ulp,
                     "grad_ulp": g_ulp, "status": "pass" if max(v_ulp, g_ulp) <= tol else "FAIL"})
        del x, xg, grad, ref_g
    return rows


def sync_check(device: str) -> str:
    """One forward + backward of the kernel with CUDA's sync debug mode set to error: 'pass' or the error."""
    if device != "cuda":
        return "not run (CPU)"
    torch = _torch()
    from wce_ref.frameworks import _torch_triton as tt

    x = torch.randn(4096, 32, device="cuda", requires_grad=True)
    y = torch.randint(0, 32, (4096,), device="cuda")
    w = torch.rand(32, device="cuda") + 0.5

    def step():
        loss = tt.softmax_wce(x, y, class_weights=w, label_smoothing=0.1, ignore_index=-100)
        return torch.autograd.grad(loss, x)

    step()  # first call: cached constants are copied to the device once
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        step()
    except RuntimeError as exc:
        return f"FAIL: {exc}"
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return "pass"


# ---------------------------------------------------------------------------------------------- speed


def implementations(dry_run: bool) -> dict[str, Callable[..., Any] | str]:
    """name -> ``f(x, y, w) -> loss`` (weighted_mean with class weights), or why it cannot be measured."""
    torch = _torch()
    import wce_ref.torch as front
    from wce_ref.frameworks import _torch_triton as tt

    def ours(x, y, w):
        return front.softmax_wce(x, y, class_weights=w)

    def builtin(x, y, w):
        return torch.nn.functional.cross_entropy(x, y, weight=w)

    def alone(x, y, w):
        return tt.softmax_wce(x, y, class_weights=w)

    graph_note = "CUDA graphs need a GPU" if dry_run else None
    impls: dict[str, Callable[..., Any] | str] = {
        "ours (Triton kernel, front end)": ours,
        "ours (Triton kernel alone)": alone,
        "F.cross_entropy (eager)": builtin,
        # replayed CUDA graphs: the GPU's time alone, without the host's launch overhead
        f"ours (Triton kernel alone){GRAPH}": graph_note or alone,
        f"F.cross_entropy (eager){GRAPH}": graph_note or builtin,
    }
    dynamo = importlib.import_module("torch._dynamo")
    for limit in ("cache_size_limit", "recompile_limit"):  # 12 shapes/dtypes per function: no silent eager fallback
        if hasattr(dynamo.config, limit):
            setattr(dynamo.config, limit, 64)
    skip = "not run in a dry run (compilation on the CPU takes minutes)"
    impls["ours (torch.compile: the formula)"] = skip if dry_run else torch.compile(ours, dynamic=False)
    impls["F.cross_entropy (torch.compile)"] = skip if dry_run else torch.compile(builtin, dynamic=False)
    impls["Liger-Kernel"] = _liger()
    impls["quack"] = _quack()
    return impls


def _liger() -> Callable[..., Any] | str:
    """Liger-Kernel's cross entropy (weighted where its version takes ``weight``), or why it is absent."""
    try:
        import inspect

        from liger_kernel.transformers import LigerCrossEntropyLoss
    except Exception as exc:
        return (f"not installed here ({type(exc).__name__}); the GPU machine has no internet: carry the wheel in "
                ".whl (see gpu_pass.sh)")
    weighted = "weight" in inspect.signature(LigerCrossEntropyLoss).parameters

    def liger(x, y, w):  # note: Liger writes its gradient into the logits' buffer during the forward
        return (LigerCrossEntropyLoss(weight=w) if weighted else LigerCrossEntropyLoss())(x, y)

    return liger


def _quack() -> Callable[..., Any] | str:
    """quack's cross entropy (no class weights: unweighted), or why it is absent."""
    try:
        from quack.cross_entropy import cross_entropy
    except Exception as exc:
        return (f"not installed here ({type(exc).__name__}); quack-kernels needs nvidia-cutlass-dsl, too large to "
                "carry in a 64 MiB working tree")

    def quack(x, y, w):
        return cross_entropy(x, y).mean()

    return quack


def bytes_moved(n: int, c: int, itemsize: int, direction: str) -> int:
    """Logits and labels read, the gradient written for forward + backward (class weights are negligible)."""
    return n * c * itemsize + n * 8 + (n * c * itemsize if direction == "fwd+bwd" else 0)


def measure(fn: Callable[..., Any], n: int, c: int, dtype: str, direction: str, device: str,
            reps: int | None = None, graph: bool = False) -> dict[str, Any]:
    """Median time, bytes moved and the peak memory of one call above the inputs'."""
    torch = _torch()
    gen = torch.Generator(device=device).manual_seed(1)
    x = (torch.randn(n, c, device=device, generator=gen) * 3).to(getattr(torch, dtype))
    y = torch.randint(0, c, (n,), device=device, generator=gen)
    w = (torch.rand(c, device=device, generator=gen) + 0.5).to(x.dtype)  # F.cross_entropy wants x's dtype
    if direction == "fwd+bwd":
        x.requires_grad_(True)

        def call():
            return torch.autograd.grad(fn(x, y, w), x)
    else:

        def call():
            with torch.no_grad():
                return fn(x, y, w)

    if graph:
        call = _graphed(call)
    t = _time(call, device, reps=reps or (5 if n * c >= 1 << 28 else 7), inner=1 if reps else None)
    peak = None
    if device == "cuda":
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        call()
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    moved = bytes_moved(n, c, x.element_size(), direction)
    return {"time_s": t, "bytes": moved, "bandwidth": moved / t, "peak_bytes": peak}


def _graphed(call: Callable[[], Any]) -> Callable[[], Any]:
    """``call`` captured once in a CUDA graph (after warm-up on a side stream); returns the replay."""
    torch = _torch()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            call()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        call()
    return graph.replay


def speed(device: str, sizes: list[tuple[int, int]], deadline: float, copy_bw: float, dry_run: bool) -> list[dict]:
    """Every (size, dtype, direction, implementation), most wanted first, until ``deadline`` (a
    ``time.perf_counter()`` value, with 30 s kept for the slowest measurement and the report)."""
    impls = implementations(dry_run)
    rows = []
    cases = [(s, d, r) for d in DTYPES for r in DIRECTIONS for s in sizes]
    eager = [name for name in impls if "compile" not in name]  # every eager figure first: compilation is slow
    order = [(case, name) for names in (eager, [n for n in impls if n not in eager]) for case in cases
             for name in names]
    for ((n, c), dtype, direction), name in order:
        fn = impls[name]
        row = {"impl": name, "size": f"{n}x{c}", "n": n, "c": c, "dtype": dtype, "direction": direction}
        if isinstance(fn, str):
            row["note"] = fn
        elif time.perf_counter() > deadline - (0 if dry_run else 30):
            row["note"] = "not run: the time budget was spent"
        else:
            try:
                row.update(measure(fn, n, c, dtype, direction, device, reps=2 if dry_run else None,
                                   graph=name.endswith(GRAPH)))
                row["share"] = row["bandwidth"] / copy_bw
            except Exception as exc:  # a competitor that cannot run a case says why; ours failing fails the pass
                ours = name.startswith("ours (Triton") and not name.endswith(GRAPH)
                row["note"] = f"{'FAIL' if ours else 'error'}: {type(exc).__name__}: {str(exc)[:160]}"
                row["failed"] = ours
        rows.append(row)
        print(f"{_now()} {name} {n}x{c} {dtype} {direction}: "
              f"{_fmt_time(row) if 'time_s' in row else row['note']}", flush=True)
    return rows


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%H:%M:%S")


def _fmt_time(row: dict[str, Any]) -> str:
    return f"{row['time_s'] * 1e3:.3f} ms, {row['bandwidth'] / 1e9:.0f} GB/s ({row['share']:.0%} of copy)"


# ---------------------------------------------------------------------------------------------- the report


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def targets(rows: list[dict[str, Any]]) -> list[list[str]]:
    """The headline: the kernel's forward + backward at 1,048,576 x 32 float32 against the copy bandwidth and
    against each built-in's time, for the kernel alone and through the front end (its argument check included)."""
    (n, c), dtype, direction, share = HEADLINE
    at = {r["impl"]: r for r in rows if (r["n"], r["c"], r["dtype"], r["direction"]) == (n, c, dtype, direction)}
    out = []
    for name in ("ours (Triton kernel alone)", "ours (Triton kernel, front end)", f"ours (Triton kernel alone){GRAPH}"):
        out += _targets_of(name, at, share, f"{direction} {n:,} x {c} {dtype}")
    return out


def _targets_of(name: str, at: dict[str, dict[str, Any]], share: float, where: str) -> list[list[str]]:
    ours = at.get(name, {})
    if "time_s" not in ours:
        return [[f"{name}, {where}", ours.get("note", "not measured here"), "not measured"]]
    out = [[f"{name}, {where}: at least {share:.0%} of the copy bandwidth",
            f"{ours['share']:.0%} ({ours['bandwidth'] / 1e9:.0f} GB/s, {ours['time_s'] * 1e3:.3f} ms)",
            "**holds**" if ours["share"] >= share else "**misses**"]]
    for other_name, other in at.items():
        if other_name.startswith("ours") or other_name.endswith(GRAPH) != name.endswith(GRAPH):
            continue  # graphs against graphs, launches against launches
        if "time_s" not in other:
            out.append([f"{name} at or below {other_name}", other.get("note", "not measured"), "not measured"])
            continue
        ratio = ours["time_s"] / other["time_s"]
        out.append([f"{name} at or below {other_name}", f"{ratio:.2f}x its time ({other['time_s'] * 1e3:.3f} ms)",
                    "**holds**" if ratio <= 1.0 else "**misses**"])
    return out


def _cell(r: dict[str, Any] | None) -> str:
    if r is None:
        return "—"
    if "time_s" not in r:
        return "n/m"
    peak = "" if r.get("peak_bytes") is None else f" · {r['peak_bytes'] / 2**20:.0f} MiB"
    return f"{r['time_s'] * 1e3:.3f} ms · {r['bandwidth'] / 1e9:.0f} GB/s · {r['share']:.0%}{peak}"


def speed_tables(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    sizes = list(dict.fromkeys(r["size"] for r in rows))
    for dtype in DTYPES:
        for direction in DIRECTIONS:
            part = [r for r in rows if r["dtype"] == dtype and r["direction"] == direction]
            if not part:
                continue
            impls = list(dict.fromkeys(r["impl"] for r in part))
            by = {(r["impl"], r["size"]): r for r in part}
            out += ["", f"### {direction}, {dtype}", ""]
            out += _table(["implementation", *sizes], [[i, *(_cell(by.get((i, s))) for s in sizes)] for i in impls])
    notes = {(r["impl"], r["note"]) for r in rows if "note" in r}
    if notes:
        out += ["", "Not measured (n/m):", ""] + [f"- {impl}: {note}" for impl, note in sorted(notes)]
    return out


def correctness_section(checks: dict[str, Any]) -> list[str]:
    cells = checks["agreement"]["cells"]
    out = ["## Correctness on this device", ""]
    worst: dict[str, float] = {}
    for r in cells:
        impl = r["cell"].split("-cpu-")[0].split("-cuda-")[0]
        worst[impl] = max(worst.get(impl, 0.0), r["worst_ulp"])
    out.append(f"Agreement matrix, softmax_wce: {len(cells)} cells, {len(checks['agreement']['failed'])} failed "
               f"(worst ULP: {', '.join(f'{k} {v:.3g}' for k, v in worst.items())}); details in "
               "`agreement-gpu-softmax.md`.")
    out += ["", "The kernel at the benchmark sizes against float64 (`F.cross_entropy` in float64), norm-wise ULPs:",
            ""]
    out += _table(["size", "dtype", "options", "reduction", "value ULP", "grad ULP", "status"],
                  [[r["size"], r["dtype"], r["options"], r["reduction"], f"{r['value_ulp']:.3g}",
                    f"{r['grad_ulp']:.3g}", r["status"]] for r in checks["large"]])
    out += ["", f"No host synchronisation in the kernel's forward + backward (sync debug mode 'error'): "
            f"{checks['sync']}."]
    return out


def render(info: dict[str, Any], copy_bw: float, checks: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    out = ["# Fused Triton kernel of softmax_wce: speed on GPU", ""]
    if info["dry_run"]:
        out += ["> **DRY RUN on the CPU, the kernel through Triton's interpreter: a test of the script, not GPU "
                "figures. Never commit these numbers. On CPU tensors the front end runs the formula, not the "
                "kernel.**", ""]
    versions = ", ".join(f"{k} {info[k]}" for k in ("torch", "triton", "liger_kernel", "quack"))
    out += [f"Generated by `benchmarks/gpu_pass.py` on {info['date']}. Device: {info['device']}. "
            f"Python {info['python']}; {versions}.", "",
            f"Measured copy bandwidth: {copy_bw / 1e9:.0f} GB/s (a device-to-device copy, bytes read plus written, "
            "median of 10). A cell is the median time per call · bytes moved / time · that as a share of the copy "
            "bandwidth · the peak memory of one call above its inputs. Bytes moved = logits and labels read, plus "
            "the gradient written for forward + backward. Class weights in every call ('weighted_mean', "
            "`F.cross_entropy(weight=)`'s 'mean'); quack has none (unweighted). 'front end' is "
            "`wce_ref.torch.softmax_wce`, whose argument check on a CUDA tensor reduces the batch to witness rows "
            "(a pass over the logits and one host synchronisation per call); 'alone' calls the kernel's entry "
            "without the check; ', CUDA graph' rows replay the call captured in a CUDA graph: the GPU's time without "
            "the host's launch overhead (compared with each other only). 262,144 x 32 float32 logits "
            "(34 MB) fit an H100's 50 MB L2 cache: shares above 100% can happen there.", ""]
    out += correctness_section(checks)
    out += ["", "## Targets", ""]
    out += _table(["target", "measured", "status"], targets(rows))
    out += ["", "## Times", ""] + speed_tables(rows)
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="directory for the reports")
    p.add_argument("--budget", type=float, default=400.0, help="seconds for the whole run (default 400)")
    p.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes, the kernel through the interpreter")
    args = p.parse_args(argv)
    deadline = time.perf_counter() + args.budget
    if args.dry_run:
        os.environ.setdefault("TRITON_INTERPRET", "1")  # before the kernels are imported
    torch = _torch()
    device = "cpu" if args.dry_run else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        print("gpu_pass: FAIL: no CUDA device here; refusing to write GPU figures", file=sys.stderr)
        return 2
    from wce_ref.frameworks import _torch_triton as tt

    if tt.runs_on(device) is not None:
        print(f"gpu_pass: FAIL: the Triton kernel cannot run on {device}: {tt.runs_on(device)}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    info = environment(device, args.dry_run)
    print(f"{_now()} {json.dumps(info)}", flush=True)
    copy_bw = copy_bandwidth(device)
    sizes = DRY_SIZES if args.dry_run else GPU_SIZES
    checks = {"agreement": agreement_cells(device, args.dry_run, out),
              "large": large_checks(device, sizes, 64 if args.dry_run else tt.MAX_TILE), "sync": sync_check(device)}
    print(f"{_now()} correctness: {json.dumps(checks['large'])} sync {checks['sync']}", flush=True)
    print(f"{_now()} correctness done; {deadline - time.perf_counter():.0f} s left for the speed", flush=True)
    rows = speed(device, sizes, deadline, copy_bw, args.dry_run)
    stem = "speed-gpu-DRYRUN" if args.dry_run else "speed-gpu"
    (out / f"{stem}.md").write_text(render(info, copy_bw, checks, rows))
    (out / f"{stem}.json").write_text(json.dumps({"info": info, "copy_bandwidth": copy_bw, "checks": checks,
                                                  "rows": rows}, indent=1))
    failed = checks["agreement"]["failed"] + [r for r in checks["large"] if r["status"] != "pass"]
    failed += [f"{r['impl']} {r['size']} {r['dtype']} {r['direction']}" for r in rows if r.get("failed")]
    if failed or checks["sync"] not in ("pass", "not run (CPU)"):
        print(f"gpu_pass: FAIL: {failed or checks['sync']}", file=sys.stderr)
        return 1
    print(f"{_now()} gpu_pass: wrote {out / stem}.md", flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
