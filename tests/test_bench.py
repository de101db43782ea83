"""Benchmarks: the grid, the limits probe, the timed callables, the speed report and --compare."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from wce_ref import bench, frameworks
from wce_ref.bench import report
from wce_ref.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_grid_covers_the_issue_sizes_and_modes():
    full = bench.enumerate_cases(["numpy"], profile="full")
    sizes = {(c.n, c.c) for c in full}
    assert (1024, 2) in sizes and (1048576, 32) in sizes and (65536, 1000) in sizes
    from wce_ref import losses

    assert {c.loss for c in full} == {n for n, s in losses.LOSSES.items() if s.bench is not None}
    assert {"softmax_wce", "sigmoid_wce"} <= {c.loss for c in full}
    assert {c.direction for c in full} == {"fwd", "fwd+bwd"}
    quick = bench.enumerate_cases(["numpy"], profile="quick")
    assert 0 < len(quick) < len(full)


def test_bytes_and_exps_are_the_minimum_traffic():
    c = bench.BenchCase("torch", "ours", "softmax_wce", "fwd+bwd", "eager", "float32", "cpu", 1000, 10)
    assert c.bytes_moved() == 1000 * 10 * 4 * 2 + 1000 * 8
    assert c.exps() == 10_000
    lim = bench.Limits("cpu", 2, bandwidth_gbs=10.0, exp_per_s=1e9, method="test")
    assert lim.floor_seconds(1e9, 1e6) == pytest.approx(0.1)
    assert lim.floor_seconds(1e3, 1e9) == pytest.approx(1.0)


def test_probe_measures_plausible_limits():
    lim = bench.cpu_limits(1, size_mb=64, repeats=2)
    assert 0.5 < lim.bandwidth_gbs < 2000
    assert 1e6 < lim.exp_per_s < 1e12


@pytest.mark.parametrize("direction", ["fwd", "fwd+bwd"])
def test_numpy_callable_computes_the_reference(direction):
    case = bench.BenchCase("numpy", "ours", "softmax_wce", direction, "eager", "float32", "cpu", 64, 5)
    fn = bench.make_callable(case)
    out = fn()
    value = out if direction == "fwd" else out[0]
    assert np.isfinite(value) and value > 0


def _fake_json(path: Path, scale: float) -> Path:
    """A pytest-benchmark JSON with the fields the report reads, from real callables' metadata."""
    benchmarks = []
    for fw, impl, mode in [
        ("numpy", "ours", "eager"),
        ("torch", "ours", "eager"),
        ("torch", "torch.cross_entropy", "eager"),
    ]:
        for (n, c), direction in itertools.product([(256, 10), (1024, 2), (262144, 32)], ["fwd", "fwd+bwd"]):
            case = bench.BenchCase(fw, impl, "softmax_wce", direction, mode, "float32", "cpu", n, c)
            t = case.bytes_moved() / 5e9 * (3 if fw == "numpy" else 1.2 if impl == "ours" else 1.0) * scale
            peak = case.bytes_moved() * (1.5 if impl == "ours" else 1.0)
            benchmarks.append(
                {
                    "name": f"test_loss[{case.id}]",
                    "extra_info": {
                        **case.as_dict(),
                        "version": "x",
                        "device_name": "cpu",
                        "threads": 2,
                        "bytes_moved": case.bytes_moved(),
                        "exps": case.exps(),
                        "floor_s": case.bytes_moved() / 20e9,
                        "peak_bytes": peak,
                        "memory_method": "test",
                        "numpy_threads": 2,
                    },
                    "stats": {"median": t, "min": t, "iqr": 0.0, "rounds": 5},
                }
            )
    path.write_text(
        json.dumps(
            {
                "machine_info": {
                    "wce_limits": {
                        "cpu": {
                            "bandwidth_gbs": 20.0,
                            "exp_per_s": 1e9,
                            "method": "test",
                            "device": "cpu",
                            "threads": 2,
                        }
                    },
                    "wce_profile": "quick",
                },
                "datetime": "2026-01-01",
                "benchmarks": benchmarks,
            }
        )
    )
    return path


def test_speed_report_states_targets_and_draws_plots(tmp_path):
    paths = report.render([_fake_json(tmp_path / "bench-quick.json", 1.0)], tmp_path)
    md = (tmp_path / "speed-cpu.md").read_text()
    assert "| target | measured | status |" in md
    lines = {line.split(" | ")[0].lstrip("| "): line for line in md.splitlines() if line.startswith("| ")}
    for direction in ("fwd", "fwd+bwd"):  # 1.2x by construction: over the 1.0x geometric mean, within 1.25x
        eager = lines[f"torch eager {direction}: ours / built-in at most 1.00x (geometric mean), none over 1.25x"]
        assert "geometric mean 1.20x" in eager and "1/1 benchmarks within 1.25x" in eager and "**misses**" in eager
    small = lines["torch eager, 256 x 10 forward + backward: ours / built-in at most 1.5x (the per-call cost)"]
    assert "softmax_wce 1.20x" in small and "**holds**" in small
    memory = lines["torch: peak memory of forward + backward within 1.2x of the built-in's"]  # 1.5x by construction
    assert "geometric mean 1.50x" in memory and "**misses**" in memory
    roofline = next(v for k, v in lines.items() if k.startswith("fastest CPU path at 262144x32 reaches 50%"))
    assert "fwd: 25% (torch.cross_entropy (eager))" in roofline and "**misses**" in roofline  # floor / time = 5 / 20
    numpy_line = next(v for k, v in lines.items() if k.startswith("NumPy reference at most 1.0x"))
    assert "softmax_wce fwd: 3.00x, softmax_wce fwd+bwd: 3.00x; NumPy threads: 2" in numpy_line
    assert "**misses**" in numpy_line
    assert "peak memory of one call" in md
    assert "not measured: no GPU" in md
    assert any(p.suffix == ".html" for p in paths)
    assert list((tmp_path / "speed-cpu").glob("*.png"))


def test_compare_flags_regressions(tmp_path, capsys):
    old = _fake_json(tmp_path / "old.json", 1.0)
    new = _fake_json(tmp_path / "new.json", 1.25)
    assert main(["report", "speed", "--compare", str(old), str(new), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "18 benchmarks compared, 18 regressions" in out
    assert "REGRESSION" in (tmp_path / "speed-compare.md").read_text()
    assert main(["report", "speed", "--compare", str(old), str(old), "--out", str(tmp_path)]) == 0
    assert "0 regressions" in capsys.readouterr().out


def test_wce_bench_runs_pytest_benchmark_and_writes_json(tmp_path, monkeypatch):
    """With the default --out, in a fresh directory: the git-ignored out/, never reports/."""
    pytest.importorskip("pytest_benchmark")
    from wce_ref import cli

    bench_dir = cli._benchmarks_dir()  # found from the checkout before leaving it
    monkeypatch.setattr(cli, "_benchmarks_dir", lambda: bench_dir)
    monkeypatch.delenv(cli.OUT_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    rc = main(["bench", "--frameworks", "numpy", "--quiet", "--threads", "1", "--", "-k", "16384x2"])
    assert rc == 0
    out = tmp_path / "out"
    assert not (tmp_path / "reports").exists()
    data = json.loads((out / "bench-quick.json").read_text())
    assert data["benchmarks"] and data["machine_info"]["wce_limits"]["cpu"]["bandwidth_gbs"] > 0
    extra = data["benchmarks"][0]["extra_info"]
    assert {"framework", "version", "device_name", "dtype", "mode", "n", "c", "bytes_moved", "threads",
            "load_before", "load_after"} <= set(extra)
    assert (out / "speed-cpu.md").exists() and (out / "speed-cpu.html").exists()


@pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("chromium-headless-shell")), reason="no chromium")
def test_html_report_renders_in_headless_chromium(tmp_path):
    report.render([_fake_json(tmp_path / "bench-quick.json", 1.0)], tmp_path)
    browser = shutil.which("chromium") or shutil.which("chromium-headless-shell")
    shot = tmp_path / "shot.png"
    html = tmp_path / "speed-cpu.html"
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", html.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Weighted cross entropy speed on CPU" in dom.stdout and "<table>" in dom.stdout
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--screenshot={shot}",
            "--window-size=1280,2000",
            html.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("L"))
    assert img.shape[0] >= 1000 and img.std() > 10  # not a blank page


def test_peak_memory_counts_what_a_call_allocates():
    from wce_ref.bench import _memory

    if not _memory.rss_available():
        pytest.skip("peak RSS cannot be reset on this system")
    backend = frameworks.get("numpy")
    big, method = bench.peak_bytes(lambda: np.ones(64 * 2**20 // 8).sum(), backend, "cpu")  # 64 MiB, then freed
    small, _ = bench.peak_bytes(lambda: np.ones(16).sum(), backend, "cpu")
    assert "RSS" in method
    assert 60 * 2**20 <= big <= 80 * 2**20
    assert small < 4 * 2**20


def test_numpy_reference_threads_give_identical_results(monkeypatch):
    from wce_ref import softmax_wce_grad

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40000, 8)).astype(np.float32), rng.integers(0, 8, 40000)
    monkeypatch.setenv("WCE_NUM_THREADS", "1")
    one = softmax_wce_grad(x, y)
    monkeypatch.setenv("WCE_NUM_THREADS", "3")
    assert np.array_equal(softmax_wce_grad(x, y), one)
    monkeypatch.setenv("WCE_NUM_THREADS", "zero")
    with pytest.raises(ValueError, match="WCE_NUM_THREADS must be a positive integer; received 'zero'"):
        softmax_wce_grad(x, y)


def test_gpu_runs_of_every_framework_share_one_report(tmp_path):
    """torch calls the GPU "cuda" and JAX "gpu": one speed-gpu report holds both, and the CPU report keeps its own
    runs' versions and limits."""
    cpu = _fake_json(tmp_path / "bench-cpu.json", 1.0)
    data = json.loads(cpu.read_text())
    data["machine_info"]["wce_versions"] = {"numpy": "cpu-run", "torch": "cpu-run"}
    cpu.write_text(json.dumps(data))
    gpu_runs = [("torch", "cuda", "torch.cross_entropy"), ("jax", "gpu", "optax.softmax_cross_entropy")]
    for fw, device, builtin in gpu_runs:
        rows = []
        for b in data["benchmarks"]:
            e = dict(b["extra_info"])
            if e["framework"] != "torch":
                continue
            e.update(framework=fw, device=device, impl=e["impl"] if e["impl"] == "ours" else builtin)
            case = bench.BenchCase(**{k: e[k] for k in ("framework", "impl", "loss", "direction", "mode", "dtype",
                                                        "device", "n", "c")})
            rows.append({**b, "name": f"test_loss[{case.id}]", "extra_info": e})
        limits = {device: {"bandwidth_gbs": 3000.0, "exp_per_s": None, "method": "gpu copy", "device": device,
                           "threads": 0}}
        info = {"wce_limits": limits, "wce_profile": "full", "wce_versions": {fw: f"{fw}-gpu-run"}}
        (tmp_path / f"bench-gpu-{fw}.json").write_text(
            json.dumps({"machine_info": info, "datetime": "2026-01-02", "benchmarks": rows})
        )
    written = report.render(sorted(tmp_path.glob("bench-*.json")), tmp_path)
    assert sorted(p.name for p in written if p.suffix == ".md") == ["speed-cpu.md", "speed-gpu.md"]
    gpu_md = (tmp_path / "speed-gpu.md").read_text()
    assert "Versions: jax jax-gpu-run, torch torch-gpu-run." in gpu_md
    assert "memory bandwidth 3000.0 GB/s" in gpu_md
    assert "torch eager fwd+bwd: ours / built-in" in gpu_md and "jax eager fwd+bwd: ours / built-in" in gpu_md
    cpu_md = (tmp_path / "speed-cpu.md").read_text()
    assert "Versions: numpy cpu-run, torch cpu-run." in cpu_md and "gpu-run" not in cpu_md


def test_check_report_name_must_be_a_file_stem(tmp_path, capsys):
    assert main(["check", "--frameworks", "numpy", "--name", "../agreement", "--out", str(tmp_path)]) == 2
    assert "--name: a file stem" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_a_zero_memory_figure_is_counted_not_divided(tmp_path):
    """A built-in whose peak memory reads 0 (nothing through the tracked allocator) never prints "infx"."""
    path = _fake_json(tmp_path / "bench-quick.json", 1.0)
    data = json.loads(path.read_text())
    zeroed = 0
    for b in data["benchmarks"]:
        info = b["extra_info"]
        if info["impl"] == "torch.cross_entropy" and info["direction"] == "fwd+bwd" and info["n"] == 262144:
            info["peak_bytes"] = 0
            zeroed += 1
    assert zeroed == 1
    path.write_text(json.dumps(data))
    report.render([path], tmp_path)
    md = (tmp_path / "speed-cpu.md").read_text()
    assert "infx" not in md and "inf x" not in md
    memory = next(line for line in md.splitlines() if "peak memory of forward + backward within" in line)
    assert "1 without a non-zero figure" in memory


def test_figures_taken_on_a_loaded_machine_are_marked(tmp_path):
    """Each benchmark records the load average before and after; the header and the targets say when it was high."""
    path = _fake_json(tmp_path / "bench-quick.json", 1.0)
    data = json.loads(path.read_text())
    for i, b in enumerate(data["benchmarks"]):
        b["extra_info"].update(load_before=0.4, load_after=5.5 if i == 0 else 0.6)  # threads 2: 5.5 is loaded
    path.write_text(json.dumps(data))
    report.render([path], tmp_path)
    md = (tmp_path / "speed-cpu.md").read_text()
    assert "ranged 0.4-5.5" in md and "**1 of 18 figures were taken on a loaded machine**" in md
    assert "(loaded machine: 1 of 18 figures)" in md
    for b in data["benchmarks"]:
        b["extra_info"].update(load_before=0.4, load_after=0.6)
    path.write_text(json.dumps(data))
    report.render([path], tmp_path)
    md = (tmp_path / "speed-cpu.md").read_text()
    assert "**0 of 18 figures were taken on a loaded machine**" in md and "loaded machine:" not in md


def test_older_files_are_marked_by_their_run_level_load(tmp_path):
    """Files from before the per-benchmark load record: the run's end-of-run load average decides the mark (a
    loaded run says so under "Targets" and in every status), and a file with no load at all says it is unknown."""
    path = _fake_json(tmp_path / "bench-quick.json", 1.0)
    data = json.loads(path.read_text())
    data["machine_info"].update(wce_loadavg=[4.2, 4.0, 3.9], wce_threads=2)
    path.write_text(json.dumps(data))
    report.render([path], tmp_path)
    md = (tmp_path / "speed-cpu.md").read_text()
    assert "**Measured on a loaded machine (load average 4.2 at the end of `bench-quick.json`)" in md
    assert "**holds** (loaded machine)" in md and "**misses** (loaded machine)" in md
    data["machine_info"]["wce_loadavg"] = [0.3, 0.4, 0.5]
    path.write_text(json.dumps(data))
    report.render([path], tmp_path)
    md = (tmp_path / "speed-cpu.md").read_text()
    assert "loaded machine" not in md and "not recorded" not in md
    del data["machine_info"]["wce_loadavg"]
    path.write_text(json.dumps(data))
    report.render([path], tmp_path)
    md = (tmp_path / "speed-cpu.md").read_text()
    assert "The machine's load was not recorded for `bench-quick.json`" in md and "(load not recorded)" in md
