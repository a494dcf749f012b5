"""bench:serve's fitted head (bench/serve/bench.py fit_head): every test image gets its own class with a
clear margin, so the top-1 comparison between the local server and the seed-style handler means something."""
import importlib.util
import os

import torch

from conftest import REPO

spec = importlib.util.spec_from_file_location("bench_serve", os.path.join(REPO, "bench", "serve", "bench.py"))
bench_serve = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_serve)

import model_def  # noqa: E402  (conftest puts scripts/ on the path)


def test_fit_head_gives_every_image_its_class_with_the_margin():
    torch.manual_seed(0)
    model = model_def.build_model("resnet18", bench_serve.NUM_CLASSES, weights="none").eval()
    # Twelve smooth images sharing most of their content, as the benchmark's tinted noise photos do.
    base = torch.rand(1, 3, 8, 8)
    images = torch.nn.functional.interpolate(base + 0.3 * torch.rand(12, 3, 8, 8), size=64, mode="bilinear")
    classes = bench_serve.target_classes(12)
    assert len(set(classes)) == 12

    bench_serve.fit_head(model, images, classes)

    with torch.no_grad():
        logits = model(images)
    assert logits.argmax(1).tolist() == classes
    top2 = logits.topk(2, dim=1).values
    assert (top2[:, 0] - top2[:, 1]).min().item() > 6.0  # the margin asked for is 8
    # A decoder's few-level differences (here up to 2% of the range) do not change a top-1.
    with torch.no_grad():
        noisy = model(images + 0.02 * (torch.rand_like(images) - 0.5))
    assert noisy.argmax(1).tolist() == classes


def test_fit_head_changes_only_the_head():
    torch.manual_seed(0)
    model = model_def.build_model("resnet18", bench_serve.NUM_CLASSES, weights="none").eval()
    before = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("fc.")}
    bench_serve.fit_head(model, torch.rand(4, 3, 64, 64), bench_serve.target_classes(4))
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert isinstance(model.fc, torch.nn.Linear)


def test_bf16_record_is_the_training_check_over_the_benchmark_images(tmp_path, monkeypatch):
    import io

    from PIL import Image

    monkeypatch.setattr(bench_serve, "OUT", str(tmp_path))
    torch.manual_seed(0)
    model = model_def.build_model("resnet18", bench_serve.NUM_CLASSES, weights="none").eval()
    jpegs = []
    for n in range(4):
        buf = io.BytesIO()
        Image.new("RGB", (96, 72), (40 * n, 200 - 30 * n, 90)).save(buf, "JPEG")
        jpegs.append(buf.getvalue())
    folders = ["{:03d}.Breed_{:03d}".format(i + 1, i + 1) for i in range(bench_serve.NUM_CLASSES)]
    record = bench_serve.bf16_record(model, jpegs, bench_serve.target_classes(4), folders)
    assert record["images"] == 4
    assert set(record) >= {"top1_fp32", "top1_bf16", "same_top1", "within_half_point"}
    # Each image was laid out under its own class's folder, as a test split.
    assert sorted(os.listdir(tmp_path / "test-split")) == sorted(folders[c] for c in bench_serve.target_classes(4))
