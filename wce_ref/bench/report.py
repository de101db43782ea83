"""``wce report speed``: pytest-benchmark JSON -> ``reports/speed-<device>.md`` / ``.html`` with plots.

Also ``--compare OLD NEW``: per-benchmark median ratios, regressions flagged.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .._report import Document, save_png
from ._cases import HEADLINE_LOSSES, SAME_CONVENTION

#: the targets cover float32 benchmarks from 16384 x 32 up (every loss; the headline losses at every size)
TARGET_MIN_ELEMENTS = 16384 * 32
#: the training-size batch of the per-call overhead target (N x C)
SMALL_BATCH = (256, 10)
#: the size of the NumPy and roofline targets (N x C)
TARGET_SIZE = (262144, 32)
#: the size of the GPU bandwidth target (N x C)
GPU_TARGET_SIZE = (1048576, 32)
#: a benchmark is marked as taken on a loaded machine when the load average exceeds its threads by this much
LOAD_MARGIN = 1.0

TARGETS = {
    "builtin": 1.0,  # ours / same-convention built-in: geometric mean per framework, mode and direction
    "builtin_worst": 1.25,  # ... and every benchmark of those
    "small_batch": 1.5,  # ours / built-in at 256 x 10, forward + backward, eager (the per-call overhead)
    "memory": 1.2,  # peak memory of forward + backward, ours / built-in, every benchmark
    "numpy_vs_torch": 1.0,  # NumPy reference / torch eager, CPU float32, at 262144 x 32
    "roofline_cpu": 0.5,  # fastest CPU path at 262144 x 32, fraction of the roofline floor
    "gpu_bandwidth": 0.80,  # GPU fwd+bwd at 1048576 x 32, fraction of the bandwidth
}


def _read_json(path: Path) -> dict[str, Any]:
    """A pytest-benchmark JSON file, or an error naming it."""
    if not path.is_file():
        raise ValueError(f"benchmark JSON: {path} {'is a directory' if path.is_dir() else 'does not exist'}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"benchmark JSON: cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks", []), list):
        raise ValueError(f"benchmark JSON: {path} is not a pytest-benchmark JSON file (no 'benchmarks' list)")
    return data


def load(paths: list[str | Path]):
    """Rows of every benchmark in the given pytest-benchmark JSON files (later files win on equal ids)."""
    import pandas as pd

    rows, machines = {}, []
    for p in paths:
        data = _read_json(Path(p))
        machines.append({**data.get("machine_info", {}), "datetime": data.get("datetime"), "file": str(p)})
        for b in data.get("benchmarks", []):
            e, s = b["extra_info"], b["stats"]
            row = {
                k: e.get(k)
                for k in (
                    "framework",
                    "impl",
                    "loss",
                    "direction",
                    "mode",
                    "dtype",
                    "device",
                    "n",
                    "c",
                    "version",
                    "device_name",
                    "threads",
                    "bytes_moved",
                    "exps",
                    "floor_s",
                    "peak_bytes",
                    "memory_method",
                    "numpy_threads",
                    "load_before",
                    "load_after",
                )
            }
            row["file"] = str(p)
            row.update(
                id=b["name"].split("[", 1)[-1].rstrip("]"),
                median_s=s["median"],
                min_s=s["min"],
                iqr_s=s["iqr"],
                rounds=s["rounds"],
            )
            row["gbs"] = row["bytes_moved"] / row["median_s"] / 1e9
            row["roofline"] = row["floor_s"] / row["median_s"]
            row["impl_label"] = row["framework"] if row["impl"] == "ours" else row["impl"]
            row["label"] = f"{row['impl_label']} ({row['mode']})"
            row["size"] = f"{row['n']}x{row['c']}"
            rows[row["id"]] = row
    df = pd.DataFrame(list(rows.values()))
    if df.empty:
        raise ValueError(f"no benchmarks in {', '.join(map(str, paths))}")
    return df, machines


def _has_benchmark_loads(part) -> bool:
    """Whether the benchmarks recorded their own load average before and after (newer files)."""
    return "load_before" in part and bool(part.load_before.notna().any())


def loaded(part) -> Any:
    """Per row: measured on a loaded machine, i.e. a 1-minute load average before or after the benchmark above
    its own threads plus :data:`LOAD_MARGIN` (False where the load was not recorded)."""
    if "load_before" not in part:
        return part.median_s * 0 > 1
    threads = part.threads.fillna(1).astype(float) if "threads" in part else 1.0
    load = part[["load_before", "load_after"]].astype(float).max(axis=1)
    return (load > threads + LOAD_MARGIN).fillna(False)


def _load_note(machines, part=None) -> str:
    loads = [f"{Path(x['file']).name}: {x['wce_loadavg'][0]:.1f}" for x in machines if x.get("wce_loadavg")]
    note = (f" Load average at the end of each run (other work on the machine): {', '.join(loads)}." if loads
            else " Load average: not recorded in these runs.")
    if part is not None and _has_benchmark_loads(part):
        n, lo, hi = int(loaded(part).sum()), part.load_before.min(), part[["load_before", "load_after"]].max().max()
        note += (f" Per benchmark, the load average before and after ranged {lo:.1f}-{hi:.1f}: **{n} of {len(part)} "
                 f"figures were taken on a loaded machine** (load above the benchmark's threads + {LOAD_MARGIN:g})"
                 + (", and the targets below are marked so." if n else "."))
    return note


def _memory_method(part) -> str:
    known = part.memory_method.dropna().unique() if "memory_method" in part else []
    return "; ".join(map(str, known)) if len(known) else "not recorded in these runs"


def _mib(gg, s) -> str:
    v = gg.peak_bytes[s] if "peak_bytes" in gg else None
    return "-" if v is None or v != v else f"{v / 2**20:.1f}"


def _gmean(xs) -> float:
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def _target_rows(df):
    """The benchmarks the ratio targets are about: float32, every loss, from 16384 x 32 up."""
    return df[(df.dtype == "float32") & (df.n * df.c >= TARGET_MIN_ELEMENTS)]


def _ratios(df, column: str):
    """ours / the fastest same-convention built-in, per benchmark key, for ``column`` (time or memory)."""
    key = ["framework", "loss", "direction", "mode", "dtype", "device", "n", "c"]
    ours = df[(df.impl == "ours") & (df.framework != "numpy")].set_index(key)[column]
    builtin = df[df.impl.isin(SAME_CONVENTION)].groupby(key)[column].min().astype(float)
    builtin = builtin[builtin > 0]  # a zero figure (memory nobody allocated through the tracked allocator) has no ratio
    return (ours.astype(float) / builtin).dropna()


def _ratio_target(r, what: str, gmean_limit: float, worst_limit: float | None) -> dict[str, Any]:
    worst = r.idxmax()
    g = _gmean(r.tolist())
    limit = gmean_limit if worst_limit is None else worst_limit
    holds = g <= gmean_limit and (worst_limit is None or r.max() <= worst_limit)
    return {
        "target": what,
        "measured": f"geometric mean {g:.2f}x, worst {r.max():.2f}x ({worst[1]} {worst[2]} {worst[6]}x{worst[7]}), "
        f"best {r.min():.2f}x; {int((r <= limit).sum())}/{len(r)} benchmarks within {limit:.2f}x",
        "holds": bool(holds),
    }


def _builtin_targets(df) -> list[dict[str, Any]]:
    """Per framework, mode and direction: ours / the built-in, geometric mean and worst; then peak memory."""
    out = []
    rows = _target_rows(df)
    time = _ratios(rows, "median_s")
    for fw in sorted({k[0] for k in time.index}):
        for mode in ("eager", "compiled"):
            for direction in ("fwd", "fwd+bwd"):
                r = time[[k[0] == fw and k[3] == mode and k[2] == direction for k in time.index]]
                if not len(r):
                    continue
                what = (f"{fw} {mode} {direction}: ours / built-in at most {TARGETS['builtin']:.2f}x (geometric "
                        f"mean), none over {TARGETS['builtin_worst']:.2f}x")
                out.append(_ratio_target(r, what, TARGETS["builtin"], TARGETS["builtin_worst"]))
    return out + _memory_targets(rows[rows.direction == "fwd+bwd"]) if "peak_bytes" in rows else out


def _small_batch_targets(df) -> list[dict[str, Any]]:
    """Per framework: ours / the built-in at 256 x 10, forward + backward, eager (what a training step pays)."""
    n, c = SMALL_BATCH
    rows = df[(df.n == n) & (df.c == c) & (df.dtype == "float32") & (df.direction == "fwd+bwd")
              & (df["mode"] == "eager")]
    r = _ratios(rows, "median_s")
    out = []
    for fw in sorted({k[0] for k in r.index}):
        mine = r[[k[0] == fw for k in r.index]]
        parts = [f"{k[1]} {v:.2f}x" for k, v in mine.items()]
        out.append({
            "target": f"{fw} eager, {n} x {c} forward + backward: ours / built-in at most "
                      f"{TARGETS['small_batch']:.1f}x (the per-call cost)",
            "measured": ", ".join(parts),
            "holds": bool((mine <= TARGETS["small_batch"]).all()),
        })
    return out


def _memory_targets(rows) -> list[dict[str, Any]]:
    """The peak-memory target per framework; benchmarks where either figure is 0 are counted, not divided."""
    mem = _ratios(rows, "peak_bytes")
    ours = rows[(rows.impl == "ours") & (rows.framework != "numpy")]
    out = []
    for fw in sorted(set(ours.framework)):
        r = mem[[k[0] == fw for k in mem.index]]
        r = r[r > 0]
        skipped = int((ours.framework == fw).sum()) - len(r)
        what = f"{fw}: peak memory of forward + backward within {TARGETS['memory']:.1f}x of the built-in's"
        if len(r):
            target = _ratio_target(r, what, TARGETS["memory"], TARGETS["memory"])
        else:
            target = {"target": what, "measured": "not measured", "holds": None}
        if skipped:
            target["measured"] += f"; {skipped} without a non-zero figure for ours or the built-in (no ratio)"
        out.append(target)
    return out


def _numpy_target(cpu) -> dict[str, Any] | None:
    n, c = TARGET_SIZE
    at = cpu[(cpu.dtype == "float32") & (cpu.n == n) & (cpu.c == c) & cpu.loss.isin(HEADLINE_LOSSES)]
    np_ = at[at.framework == "numpy"].set_index(["loss", "direction"])
    tb = at[at.impl.isin({"torch.cross_entropy", "torch.bce_with_logits"}) & (at["mode"] == "eager")]
    r = (np_["median_s"] / tb.set_index(["loss", "direction"])["median_s"]).dropna()
    if not len(r):
        return None
    threads = sorted({int(t) for t in np_.get("numpy_threads", []) if t == t and t is not None})
    parts = [f"{loss} {d}: {v:.2f}x" for (loss, d), v in r.items()]
    return {
        "target": f"NumPy reference at most {TARGETS['numpy_vs_torch']:.1f}x PyTorch eager at {n}x{c} (float32; "
        "value, and value + gradient against forward + backward)",
        "measured": "NumPy / torch built-in eager: " + ", ".join(parts)
        + f"; NumPy threads: {', '.join(map(str, threads)) or 'not recorded (1)'}",
        "holds": bool((r <= TARGETS["numpy_vs_torch"]).all()),
    }


def _roofline_target(cpu) -> dict[str, Any] | None:
    """The fastest CPU path at 262144 x 32 against the measured roofline floor (each direction's best)."""
    n, c = TARGET_SIZE
    at = cpu[(cpu.n == n) & (cpu.c == c) & (cpu.dtype == "float32")]
    if not len(at):
        return None
    best = at.loc[at.groupby("direction")["roofline"].idxmax()]
    detail = ", ".join(f"{r.direction}: {r.roofline:.0%} ({r.label})" for r in best.itertuples())
    return {
        "target": f"fastest CPU path at {n}x{c} reaches {TARGETS['roofline_cpu']:.0%} of the measured roofline floor",
        "measured": detail,
        "holds": bool(best.roofline.max() >= TARGETS["roofline_cpu"]),
    }


def _gpu_target(df) -> dict[str, Any]:
    n, c = GPU_TARGET_SIZE
    what = (f"GPU forward + backward at {n}x{c} moves {TARGETS['gpu_bandwidth']:.0%} of the memory bandwidth "
            "(the largest size measured where that one is not)")
    gpu = df[(df.device != "cpu") & (df.direction == "fwd+bwd")]
    if not len(gpu):
        return {"target": what, "measured": "not measured: no GPU in these runs", "holds": None}
    big = gpu[(gpu.n == n) & (gpu.c == c)]
    if not len(big):
        big = gpu[gpu.n * gpu.c == (gpu.n * gpu.c).max()]
    b = big.loc[big["roofline"].idxmax()]
    return {"target": what, "measured": f"best {b.roofline:.0%} ({b.label}, {b.gbs:.0f} GB/s)",
            "holds": bool(b.roofline >= TARGETS["gpu_bandwidth"])}


def targets(df) -> list[dict[str, Any]]:
    """Each performance target: measured figures and whether it holds."""
    out = _small_batch_targets(df) + _builtin_targets(df)
    cpu = df[df.device == "cpu"]
    for extra in (_numpy_target(cpu), _roofline_target(cpu)):
        if extra is not None:
            out.append(extra)
    return out + [_gpu_target(df)]


#: the plots' size in inches at 100 dpi: 1,100 px wide, the HTML report's column, so the browser shows them unscaled
PLOT_SIZE = (11.0, 8.4)


def _plot_group(plt, part, title: str):
    """One figure of a (loss, direction, dtype): time, speed relative to NumPy, % of roofline and peak memory in a
    2 x 2 grid, one legend below the four (the same colours and line styles in each)."""
    base = part[part.framework == "numpy"].set_index(["n", "c"])["median_s"]
    fig, grid = plt.subplots(2, 2, figsize=PLOT_SIZE)
    axes = grid.ravel()
    impls = sorted(part["impl_label"].unique())
    colors = {name: plt.get_cmap("tab10" if len(impls) <= 10 else "tab20")(i) for i, name in enumerate(impls)}
    for label, g in part.groupby("label"):
        kw = {"marker": "o", "ms": 3, "label": label, "color": colors[g["impl_label"].iloc[0]]}
        style = "--" if "compiled" in label else "-"
        g = g.assign(elems=g.n * g.c).sort_values("elems")
        axes[0].plot(g.elems, g.median_s * 1e3, style, **kw)
        rel = base.reindex(list(zip(g.n, g.c, strict=True))).to_numpy() / g.median_s.to_numpy()
        axes[1].plot(g.elems, rel, style, **kw)
        axes[2].plot(g.elems, g.roofline * 100, style, **kw)
        if "peak_bytes" in g and g.peak_bytes.notna().any():
            axes[3].plot(g.elems, g.peak_bytes.astype(float) / 2**20, style, **kw)
    axes[0].set(xscale="log", yscale="log", ylabel="median time (ms)", title="time")
    if len(base):
        axes[1].set(xscale="log", yscale="log", ylabel="speed-up over NumPy reference",
                    title="relative to NumPy (>1 = faster)")  # fmt: skip
    else:  # an empty panel says so instead of drawing empty axes
        axes[1].set_axis_off()
        axes[1].text(0.5, 0.5, "no NumPy reference at this dtype", ha="center", va="center",
                     transform=axes[1].transAxes)  # fmt: skip
    axes[2].set(xscale="log", ylabel="% of roofline floor", title="% of roofline")
    axes[3].set(xscale="log", yscale="symlog", ylabel="MiB", title="peak memory of one call")
    for ax in axes if len(base) else axes[[0, 2, 3]]:
        ax.set_xlabel("N x C (elements)")
        ax.grid(alpha=0.3, which="both")
    axes[3].set_ylim(bottom=0)  # memory is never negative (symlog would show ticks below 0)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.suptitle(title)
    legend_rows = -(-len(labels) // 3)
    fig.tight_layout(rect=(0, min(0.4, (0.3 + 0.2 * legend_rows) / PLOT_SIZE[1]), 1, 1))  # room for the legend
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=9, frameon=False)
    return fig


def _plots(df, device: str, out_dir: Path) -> list[tuple[str, str]]:
    """One PNG per (loss, direction, dtype) in ``out_dir``; returns (relative path, caption) per figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    made = []
    for (loss, direction, dtype), part in df.groupby(["loss", "direction", "dtype"]):
        fig = _plot_group(plt, part, f"{loss} {direction} {dtype} on {device}")
        name = f"{loss}-{direction.replace('+', '_')}-{dtype}.png"
        save_png(fig, out_dir / name, dpi=100)
        plt.close(fig)
        made.append(
            (
                f"{out_dir.name}/{name}",
                f"{loss} {direction} {dtype}: time, speed relative to the NumPy "
                "reference, percentage of the roofline floor and peak memory (dashed: compiled)",
            )
        )
    return made


def _run_load(part, mine: list[dict[str, Any]]) -> tuple[str, str] | None:
    """Where no benchmark recorded its own load (older files): ``(status mark, header sentence)`` when a run's
    end-of-run load average exceeds its threads + :data:`LOAD_MARGIN` or a run recorded no load at all."""
    if _has_benchmark_loads(part):
        return None
    heavy = [f"{x['wce_loadavg'][0]:.1f} at the end of `{Path(x['file']).name}`" for x in mine
             if x.get("wce_loadavg") and x["wce_loadavg"][0] > (x.get("wce_threads") or 1) + LOAD_MARGIN]
    unknown = [f"`{Path(x['file']).name}`" for x in mine if not x.get("wce_loadavg")]
    if heavy:
        unrecorded = f"; not recorded for {', '.join(unknown)}" if unknown else ""
        return "(loaded machine)", f"Measured on a loaded machine (load average {', '.join(heavy)}{unrecorded})"
    if unknown:
        return "(load not recorded)", f"The machine's load was not recorded for {', '.join(unknown)}"
    return None


def _target_table(part, run_load: tuple[str, str] | None) -> list[list[str]]:
    """The targets' rows: target, measured, status (marked where figures were taken on a loaded machine;
    ``run_load``: :func:`_run_load`'s mark for files without per-benchmark loads)."""
    under_load = int(loaded(part).sum())
    rows = []
    for t in targets(part):
        status = "not measured" if t["holds"] is None else ("**holds**" if t["holds"] else "**misses**")
        if t["holds"] is not None and under_load:
            status += f" (loaded machine: {under_load} of {len(part)} figures)"
        elif t["holds"] is not None and run_load:
            status += f" {run_load[0]}"
        rows.append([t["target"], t["measured"], status])
    return rows


def _provenance_section(doc: Document, name: str, part, mine: list[dict[str, Any]]) -> None:
    """Where the figures come from (files, profiles, device, threads, versions, load) and the measured limits the
    roofline columns divide by: after the answer."""
    m = mine[-1]
    versions = {k: v for x in mine for k, v in x.get("wce_versions", {}).items() if k in set(part.framework)}
    lim = next((x["wce_limits"][d] for x in reversed(mine) for d in sorted(part.device.unique())
                if d in x.get("wce_limits", {})), {})  # fmt: skip
    doc.heading("Measurements and provenance")
    files = ", ".join(f"`{Path(x['file']).name}`" for x in mine)
    doc.para(
        f"Generated by `wce report speed` from {files} "
        f"(pytest-benchmark; profiles {', '.join(sorted({str(x.get('wce_profile')) for x in mine}))}; "
        f"last run {m.get('datetime', '?')}). "
        f"Device: {part.device_name.iloc[0]}"
        + (f", {m.get('wce_threads')} threads for every framework and the NumPy reference" if name == "cpu" else "")
        + f". Versions: {', '.join(f'{k} {v}' for k, v in versions.items())}."
        + _load_note(mine, part)
    )
    if lim:
        exp = f", float32 exp {lim['exp_per_s'] / 1e9:.2f} G/s" if lim.get("exp_per_s") else ""
        doc.para(
            f"Measured limits (same run, {lim['method']}): memory bandwidth {lim['bandwidth_gbs']:.1f} GB/s"
            f"{exp}. Roofline floor of a benchmark = max(bytes / bandwidth, exps / exp throughput), with bytes = "
            "logits + labels read (+ gradient written for fwd+bwd) and one exp per logit; `% roofline` = floor / "
            "median time. Times are medians of pytest-benchmark rounds after warm-up (compilation excluded). Peak "
            "memory: one call after the timed rounds, "
            + _memory_method(part)
            + "."
        )


def _group_section(doc: Document, title: str, g) -> None:
    """One (loss, direction, dtype): a table per view (time, roofline, GB/s, memory, relative to NumPy), the
    implementations fastest first, one column per size."""
    doc.heading(title)
    sizes = sorted(g["size"].unique(), key=lambda s: tuple(int(x) for x in s.split("x")))
    base = g[g.framework == "numpy"].set_index("size")["median_s"]
    order = [lab for lab, _ in sorted(g.groupby("label"), key=lambda kv: kv[1]["median_s"].mean())]
    views = [
        ("median time (ms)", lambda gg, s: f"{gg.median_s[s] * 1e3:.3f}"),
        ("% of the roofline floor", lambda gg, s: f"{gg.roofline[s]:.0%}"),
        ("achieved GB/s", lambda gg, s: f"{gg.gbs[s]:.1f}"),
        ("peak memory of one call (MiB; fwd+bwd: gradient included)", _mib),
        (
            "speed relative to the NumPy reference (>1 = faster)",
            lambda gg, s, base=base: f"{base[s] / gg.median_s[s]:.2f}x" if s in base.index else "-",
        ),
    ]
    for view, cell in views:
        trs = []
        for label in order:
            gg = g[g.label == label].set_index("size")
            trs.append([label, *[cell(gg, s) if s in gg.index else "-" for s in sizes]])
        doc.para(f"**{view}**")
        doc.table(["implementation (mode)", *sizes], trs)


def _device_report(name: str, part, mine: list[dict[str, Any]], out: Path) -> Document:
    """The report of one kind of device: the targets (the answer) first, provenance, a section per (loss,
    direction, dtype), the plots last."""
    doc = Document(f"Weighted cross entropy speed on {name.upper()}")
    doc.heading("Targets", anchor="answer")
    run_load = _run_load(part, mine)
    if run_load:
        doc.para(f"**{run_load[1]}: these may not be idle timings.** The benchmarks did not record their own "
                 "load (older files); re-measure with nothing else running before quoting a ratio.")
    doc.table(["target", "measured", "status"], _target_table(part, run_load))
    _provenance_section(doc, name, part, mine)
    for (loss, direction, dtype), g in part.groupby(["loss", "direction", "dtype"]):
        _group_section(doc, f"{loss}, {direction}, {dtype}", g)
    doc.heading("Plots")
    for path, caption in _plots(part, name, out / f"speed-{name}"):
        doc.image(path, caption)
    return doc


def render(paths: list[str | Path], out: str | Path = "reports") -> list[Path]:
    """``speed-cpu`` and / or ``speed-gpu`` (``.md``, ``.html`` and figures) in ``out`` from benchmark JSON files."""
    df, machines = load(paths)
    out = Path(out)
    written = []
    # one report per kind of device: torch's "cuda" and JAX's "gpu" are the same GPU, in one report
    for name, part in df.groupby(df.device.map(lambda d: "cpu" if d == "cpu" else "gpu")):
        mine = [x for x in machines if x["file"] in set(part.file)]  # the runs this report's rows come from
        written += list(_device_report(name, part, mine, out).write(out / f"speed-{name}.md"))
    return written


def compare(old: str | Path, new: str | Path, *, threshold: float = 1.10, out: str | Path = "reports"):
    """Median ratio new/old per benchmark id; a ratio above ``threshold`` is a regression."""
    a, _ = load([old])
    b, _ = load([new])
    merged = a[["id", "median_s"]].merge(b[["id", "median_s"]], on="id", suffixes=("_old", "_new")).set_index("id")
    merged["ratio"] = merged.median_s_new / merged.median_s_old
    merged = merged.sort_values("ratio", ascending=False)
    regressions = merged[merged.ratio > threshold]
    doc = Document("Speed comparison")
    doc.para(
        f"`{Path(new).name}` against `{Path(old).name}`: {len(merged)} benchmarks in both; ratio = new / old "
        f"median time; regression = ratio above {threshold:.2f}. **{len(regressions)} regressions**, "
        f"geometric mean ratio {_gmean(merged.ratio.tolist()):.3f}."
    )
    doc.table(
        ["benchmark", "old ms", "new ms", "ratio", "flag"],
        [
            [
                i,
                f"{r.median_s_old * 1e3:.3f}",
                f"{r.median_s_new * 1e3:.3f}",
                f"{r.ratio:.3f}",
                "REGRESSION" if r.ratio > threshold else ("faster" if r.ratio < 1 / threshold else ""),
            ]
            for i, r in merged.iterrows()
        ],
    )
    paths = doc.write(Path(out) / "speed-compare.md")
    return merged, regressions, paths


def main(args) -> int:
    if args.compare:
        merged, regressions, paths = compare(*args.compare, threshold=args.threshold, out=args.out)
        for i, r in regressions.iterrows():
            print(f"REGRESSION {i}: {r.ratio:.2f}x slower")
        print(f"{len(merged)} benchmarks compared, {len(regressions)} regressions; wrote {paths[0]} and {paths[1]}")
        return 0
    # newest last: on equal benchmark ids the later file wins
    paths = [p for p in [args.target, *args.more] if p] or sorted(
        Path(args.out).glob("bench-*.json"), key=lambda p: p.stat().st_mtime
    )
    if not paths:
        raise ValueError(f"no benchmark JSON given and none in {args.out}/ (run `wce bench` first)")
    for p in render(paths, args.out):
        print(f"wrote {p}")
    return 0
