"""``benchmarks/gpu_pass.sh`` and ``benchmarks/gpu_pass.py`` on the CPU: what can be tested without a GPU.

The dry run runs the whole Python part (correctness checks, timing, the report) at tiny sizes with the
kernel through Triton's interpreter; without ``--dry-run`` and without CUDA the pass refuses to run and
writes no figure. Skipped, with the reason, where torch or the interpreted kernel is absent, unless
``WCE_REQUIRE_TRITON=1``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TRITON_INTERPRET", "1")  # before the kernels are imported

torch = pytest.importorskip("torch", reason="torch is not installed")

from wce_ref.frameworks import _torch_triton as tt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if not (tt.status()[0] and tt.interpreting()):
    if os.environ.get("WCE_REQUIRE_TRITON") == "1":
        raise RuntimeError(f"WCE_REQUIRE_TRITON=1 but the Triton kernel cannot run on CPU: {tt.status()[1]}")
    pytest.skip(f"Triton kernel not runnable on CPU: {tt.status()[1]}", allow_module_level=True)


@pytest.fixture(scope="module")
def gpu_pass():
    spec = importlib.util.spec_from_file_location("gpu_pass", ROOT / "benchmarks" / "gpu_pass.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dry_run_writes_a_marked_report(gpu_pass, tmp_path):
    """The dry run checks the kernel and says it is a dry run; past the time budget (here 0) no figure is
    written, each row says why."""
    rc = gpu_pass.main(["--dry-run", "--out", str(tmp_path), "--budget", "0"])
    assert rc == 0
    md = (tmp_path / "speed-gpu-DRYRUN.md").read_text()
    data = json.loads((tmp_path / "speed-gpu-DRYRUN.json").read_text())
    assert "DRY RUN on the CPU" in md and not (tmp_path / "speed-gpu.md").exists()
    assert data["checks"]["agreement"]["cells"] and not data["checks"]["agreement"]["failed"]
    assert all(r["status"] == "pass" for r in data["checks"]["large"])
    assert data["rows"] and not [r for r in data["rows"] if "time_s" in r]
    timed = [r for r in data["rows"] if r["impl"] in ("ours (Triton kernel alone)", "F.cross_entropy (eager)")]
    assert timed and all("time budget" in r["note"] for r in timed)
    assert all("need a GPU" in r["note"] for r in data["rows"] if r["impl"].endswith(gpu_pass.GRAPH))
    assert all("dry run" in r["note"] for r in data["rows"] if "compile" in r["impl"])
    assert (tmp_path / "agreement-gpu-softmax.md").exists() and "n/m" in md


@pytest.mark.parametrize("direction", ["fwd", "fwd+bwd"])
def test_a_measurement_is_a_real_timing(gpu_pass, direction):
    from wce_ref.frameworks import _torch_triton

    row = gpu_pass.measure(lambda x, y, w: _torch_triton.softmax_wce(x, y, class_weights=w), 64, 8, "bfloat16",
                           direction, "cpu", reps=2)
    assert row["time_s"] > 0 and row["bytes"] == gpu_pass.bytes_moved(64, 8, 2, direction)
    assert row["bandwidth"] == row["bytes"] / row["time_s"] and row["peak_bytes"] is None


def test_without_cuda_it_refuses_and_writes_nothing(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    env = {**os.environ, "PY": sys.executable, "LIMIT": "600"}  # a generous backstop: it refuses in seconds
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_pass.sh"), str(tmp_path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 2, proc.stderr
    assert "no CUDA device" in proc.stdout + proc.stderr
    assert not list(tmp_path.glob("speed-gpu*"))


def test_targets_compare_the_kernel_with_each_builtin(gpu_pass):
    """The headline target: share of the copy bandwidth, and time against every built-in measured or not."""
    base = {"n": 1048576, "c": 32, "dtype": "float32", "direction": "fwd+bwd"}
    rows = [
        {**base, "impl": "ours (Triton kernel alone)", "time_s": 1e-4, "bandwidth": 2.7e12, "share": 0.9},
        {**base, "impl": "ours (Triton kernel, front end)", "time_s": 3e-4, "bandwidth": 0.9e12, "share": 0.3},
        {**base, "impl": "F.cross_entropy (eager)", "time_s": 2e-4, "bandwidth": 1e12, "share": 0.4},
        {**base, "impl": "quack", "note": "not installed here"},
    ]
    table = {row[0]: row[2] for row in gpu_pass.targets(rows)}
    assert table["ours (Triton kernel alone), fwd+bwd 1,048,576 x 32 float32: at least 80% of the copy "
                 "bandwidth"] == "**holds**"
    assert table["ours (Triton kernel alone) at or below F.cross_entropy (eager)"] == "**holds**"
    assert table["ours (Triton kernel, front end) at or below F.cross_entropy (eager)"] == "**misses**"
    assert table["ours (Triton kernel alone) at or below quack"] == "not measured"
