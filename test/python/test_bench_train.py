import json
import os
import re

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
