import json
import os
import re
import sys

from conftest import REPO, clean_env, run_subprocess


def test_benchmark_runs_tiny_on_cpu(tmp_path):
    out = tmp_path / "bench.json"
    r = run_subprocess([os.path.join(REPO, "scripts", "bench_train.py"), "--device", "cpu", "--arch", "resnet18",
                        "--image-size", "32", "--batch-size", "4", "--steps", "2", "--warmup", "1",
                        "--num-images", "8", "--source-size", "48", "--workers", "1", "--json", str(out)],
                       clean_env(), timeout=120)
    assert r.code == 0, r.stderr
    configs = re.findall(r"^config=(\S+) images_per_sec=(\d+\.\d) ", r.stdout, re.M)
    assert [c for c, _ in configs] == ["baseline", "+loader", "+amp", "+channels_last", "+cudnn_bench"]
    assert re.search(r"^speedup=\d+\.\d\dx baseline_images_per_sec=", r.stdout, re.M)
    data = json.loads(out.read_text())
    assert data["setup"]["arch"] == "resnet18" and len(data["results"]) == 5
    assert all(row["images_per_sec"] > 0 for row in data["results"])


LOADER_LINES = [
    r"^bench loader data_dir=\S+ workers=1 image_size=32 epochs=2 batch_size=4 device=cpu cpus=\d+$",
    r"^baseline images_per_sec=\d+\.\d per_core=\d+\.\d seconds=\d+\.\d\d images=24$",
    r"^pipeline images_per_sec=\d+\.\d per_core=\d+\.\d seconds=\d+\.\d\d images=24 cache_build_s=\d+\.\d\d cached=12$",
    r"^ratio=\d+\.\d\dx baseline_images_per_sec=\d+\.\d pipeline_images_per_sec=\d+\.\d workers=1$",
    r"^loader images_per_sec=\d+\.\d$",
]


def test_loader_only_on_a_tiny_generated_folder(tmp_path):
    data = tmp_path / "photos"
    r = run_subprocess([os.path.join(REPO, "scripts", "bench_train.py"), "--loader-only", "--make-data", "12",
                        "--photo-size", "80x60", "--data-dir", str(data), "--workers", "1", "--image-size", "32",
                        "--epochs", "2", "--batch-size", "4", "--device", "cpu", "--cache-dir", str(tmp_path / "c")],
                       clean_env(), timeout=120)
    assert r.code == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == len(LOADER_LINES), r.stdout
    for pattern, line in zip(LOADER_LINES, lines):
        assert re.match(pattern, line), (pattern, line)
    assert sum(len(files) for _, _, files in os.walk(data)) == 12
    assert ("note: each run in a process of its own; malloc in train.py's runs: keeps freed memory, as train.py on a "
            "CPU; in the seed-style loader's: glibc's default") in r.stderr
    # train.py's own pipeline ran: its cache holds the images, built during the timed run.
    assert "cache: built 12, reused 0" in r.stderr and "cache: 12 of 12 images" in r.stderr
    assert sorted(f.split(".", 1)[1] for f in os.listdir(tmp_path / "c" / "s48")) == ["done", "idx.npy", "u8"]
    assert os.path.getsize(next((tmp_path / "c" / "s48").glob("*.u8"))) == 12 * 64 * 48 * 4  # all 12, short side 48, RGBX


def test_loader_only_without_data_is_a_usage_error():
    r = run_subprocess([os.path.join(REPO, "scripts", "bench_train.py"), "--loader-only", "--device", "cpu"],
                       clean_env(), timeout=60)
    assert r.code == 2 and "--data-dir" in r.stderr


def test_gpu_bench_smoke_prints_the_summary_table(tmp_path):
    import subprocess
    env = clean_env(GPU_BENCH_SMOKE="1", GPU_BENCH_OUT=str(tmp_path / "out"), PYTHON=sys.executable)
    proc = subprocess.run(["bash", os.path.join(REPO, "scripts", "gpu-bench.sh")], env=env, cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0].startswith("gpu-bench: ") and re.match(r"^configuration\s+images/s$", out[1])
    rows = [re.match(r"^train (\S+) \(data=tensor\)\s+(\d+\.\d)$", line) for line in out[2:7]]
    assert [m.group(1) for m in rows] == ["baseline", "+loader", "+amp", "+channels_last", "+cudnn_bench"]
    assert re.match(r"^loader seed-style \(1 workers\)\s+\d+\.\d$", out[7])
    assert re.match(r"^loader train\.py \(1 workers\)\s+\d+\.\d$", out[8])
    assert re.match(r"^bottleneck=(loader|GPU) gpu_images_per_sec=\d+\.\d loader_images_per_sec=\d+\.\d "
                    r"loader_speedup=\d+\.\d\dx$", out[9])
    assert len(out) == 10
    assert os.path.exists(tmp_path / "out" / "ladder.json") and os.path.exists(tmp_path / "out" / "loader.json")


def test_gpu_bench_is_shellcheck_clean():
    import shutil
    import subprocess
    if shutil.which("shellcheck") is None:
        import pytest
        pytest.skip("shellcheck is not installed")
    proc = subprocess.run(["shellcheck", os.path.join(REPO, "scripts", "gpu-bench.sh")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_loader_only_compares_each_photo_size_in_alternating_pairs(tmp_path):
    r = run_subprocess([os.path.join(REPO, "scripts", "bench_train.py"), "--loader-only", "--make-data", "6",
                        "--sizes", "80x60,64,mix", "--pairs", "2", "--data-dir", str(tmp_path / "photos"),
                        "--workers", "1", "--image-size", "32", "--epochs", "1", "--batch-size", "4",
                        "--device", "cpu", "--seed-malloc", "kept", "--json", str(tmp_path / "t.json")], clean_env(),
                       timeout=240)
    assert r.code == 0, r.stderr
    assert re.match(r"^bench loader sizes=80x60,64,mix images=6 pairs=2 workers=1 .* seed_malloc=kept$", r.stdout, re.M)
    assert ("note: each run in a process of its own; malloc in train.py's runs: keeps freed memory, as train.py on a "
            "CPU; in the seed-style loader's: keeps freed memory too (--seed-malloc kept)") in r.stderr
    runs = re.findall(r"^run size=(\S+) pair=(\d) loader=(\S+) images_per_sec=\d+\.\d per_core=\d+\.\d "
                      r"per_cpu_second=\d+\.\d seconds=", r.stdout, re.M)
    assert runs == [(s, p, l) for s in ("80x60", "64", "mix") for p in "12" for l in ("seed", "train.py")]
    rows = re.findall(r"^(\S+)\s+6\s+\d+ \|\s+\d+\.\d\s+\d+\.\d\s+(\d+\.\d\d)x \|\s+\d+\.\d\s+\d+\.\d\s+(\d+\.\d\d)x \|",
                      r.stdout, re.M)
    assert [row[0] for row in rows] == ["80x60", "64x48", "mix"]
    table = json.loads((tmp_path / "t.json").read_text())["sizes"]
    assert [len(row["runs"]["seed"]) for row in table] == [2, 2, 2]
    sizes = set()
    for d, _, files in os.walk(next((tmp_path / "photos").glob("mix-*"))):
        for f in files:
            from PIL import Image
            with Image.open(os.path.join(d, f)) as img:
                sizes.add(img.size)
    assert len(sizes) > 1 and all(300 <= max(s) <= 1000 for s in sizes)  # assorted, dogImages-like


def test_loader_only_refuses_a_bad_size():
    r = run_subprocess([os.path.join(REPO, "scripts", "bench_train.py"), "--loader-only", "--make-data", "4",
                        "--sizes", "300,big", "--device", "cpu"], clean_env(), timeout=60)
    assert r.code == 2 and "--sizes" in r.stderr and "'big' is not a photo size" in r.stderr
    assert "Traceback" not in r.stderr
