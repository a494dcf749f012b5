"""The faster training input pipeline (issue 17 item 1): same augmentation, uint8 out of the
loader, normalisation on the device, a one-time cache shared safely between processes."""
import contextlib
import io
import math
import multiprocessing
import os
import re
import subprocess
import sys
import textwrap
import time
from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image

import model_def
import train_data
import train_dist
import train_pipeline
from conftest import BATCH, FAST_FLAGS, SCRIPTS, data_flags, run_train

SIZE = 32
LOW = [(0 - m) / s for m, s in zip(model_def.IMAGENET_MEAN, model_def.IMAGENET_STD)]
HIGH = [(1 - m) / s for m, s in zip(model_def.IMAGENET_MEAN, model_def.IMAGENET_STD)]


def _photo(path, size=(800, 600), fmt="JPEG"):
    """A photo-like image: smooth colour field plus texture, so decoding and resizing are real work."""
    g = torch.Generator().manual_seed(len(path))
    low = torch.randint(0, 256, (6, 8, 3), generator=g, dtype=torch.uint8).numpy()
    smooth = torch.from_numpy(np.array(Image.fromarray(low).resize(size, Image.BICUBIC))).int()
    noise = torch.randint(0, 40, (size[1], size[0], 3), generator=g, dtype=torch.int32)
    Image.fromarray((smooth + noise).clamp(0, 255).byte().numpy()).save(
        path, fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return path


def _normalized(u8):
    return train_pipeline.normalize(u8.unsqueeze(0), torch.device("cpu"))[0]


def test_items_are_uint8_and_the_device_step_normalises(dataset):
    samples = train_data.scan_samples(dataset.train, train_data.class_folders(dataset.train))
    ds = train_pipeline.FastTrainDataset(samples, SIZE)
    x, y = ds[0]
    assert x.dtype == torch.uint8 and x.shape == (3, SIZE, SIZE) and y == samples[0][1]
    assert 0 <= int(x.min()) and int(x.max()) <= 255 and x.float().std() > 0
    batch = torch.stack([ds[i][0] for i in range(4)])
    out = train_pipeline.normalize(batch, torch.device("cpu"), memory_format=torch.channels_last)
    assert out.dtype == torch.float32 and out.shape == (4, 3, SIZE, SIZE)
    assert out.is_contiguous(memory_format=torch.channels_last)
    for c in range(3):
        assert LOW[c] - 1e-5 <= float(out[:, c].min()) and float(out[:, c].max()) <= HIGH[c] + 1e-5
    assert torch.allclose(out, (batch.float() / 255 - torch.tensor(model_def.IMAGENET_MEAN).view(1, 3, 1, 1))
                          / torch.tensor(model_def.IMAGENET_STD).view(1, 3, 1, 1), atol=1e-5)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_same_crops_and_flips_as_the_old_transform(tmp_path, fmt):
    """Without reduced decoding in play (every crop of a 60 x 45 image is under 2 x 32 px, so no
    JPEG draft) the output equals model_def.train_transform's for the same RNG state: the same
    crop distribution, the same flip, the same pixels."""
    path = _photo(str(tmp_path / ("a." + fmt.lower())), (60, 45), fmt)
    old = model_def.train_transform(SIZE)
    ds = train_pipeline.FastTrainDataset([(path, 0)], SIZE, torch_resize=False)
    for seed in range(12):
        torch.manual_seed(seed)
        with Image.open(path) as img:
            expected = old(img.convert("RGB"))
        torch.manual_seed(seed)
        got = _normalized(ds[0][0])
        assert torch.equal(got, expected), seed  # bit for bit: training on such data is unchanged


def test_whole_synthetic_epoch_is_bit_identical_through_the_cache(dataset, tmp_path):
    classes = train_data.class_folders(dataset.train)
    samples = train_data.scan_samples(dataset.train, classes)
    train_pipeline.build_cache(samples, str(tmp_path), 48)
    new = train_pipeline.FastTrainDataset(samples, SIZE, train_pipeline.cache_index(samples, str(tmp_path), 48),
                                          torch_resize=False)  # PIL's resize: what the old transform used
    old = train_data.ImageListDataset(samples, model_def.train_transform(SIZE))
    assert len(new.cache) == len(samples)
    torch.manual_seed(5)
    expected = torch.stack([old[i][0] for i in range(len(samples))])
    torch.manual_seed(5)
    got = train_pipeline.normalize(torch.stack([new[i][0] for i in range(len(samples))]), torch.device("cpu"))
    assert torch.equal(got, expected)


def test_draft_and_cache_keep_the_crop_geometry(tmp_path):
    """Big JPEG: draft decode (no cache) and the cache both map the crop drawn in original
    coordinates, so the picture matches the full-decode crop up to resampling noise."""
    path = _photo(str(tmp_path / "big.jpg"))
    old = model_def.train_transform(SIZE)
    cache_dir = str(tmp_path / "cache")
    short = train_pipeline.cache_short_side(SIZE, 1.5)
    train_pipeline.build_cache([(path, 0)], cache_dir, short)
    cached = train_pipeline.FastTrainDataset([(path, 0)], SIZE, train_pipeline.cache_index([(path, 0)], cache_dir, short))
    drafted = train_pipeline.FastTrainDataset([(path, 0)], SIZE)
    img, original = cached.cache.get(0)
    assert original == (800, 600) and min(img.size) == short
    for seed in range(8):
        torch.manual_seed(seed)
        with Image.open(path) as full:
            expected = old(full.convert("RGB"))
        for ds in (drafted, cached):
            torch.manual_seed(seed)
            got = _normalized(ds[0][0])
            # normalised units: 0.1 is about 6/255; a wrong box or a missed flip is far above it
            assert (got - expected).abs().mean() < 0.1, (seed, ds is cached)


def test_crop_scale_and_ratio_distribution_is_todays():
    """Crop parameters come from torchvision's own sampler with model_def's ranges."""
    assert model_def.train_transform(SIZE).transforms[0].scale == model_def.TRAIN_SCALE
    ds = train_pipeline.FastTrainDataset([], SIZE)
    assert (ds.scale, ds.ratio) == (model_def.TRAIN_SCALE, model_def.TRAIN_RATIO)


def test_each_epoch_sees_every_image_once_same_class_balance(dataset):
    classes = train_data.class_folders(dataset.train)
    samples = train_data.scan_samples(dataset.train, classes)
    ctx = train_dist.DistContext()
    loader = train_data.make_train_loader(train_pipeline.FastTrainDataset(samples, SIZE), ctx, (0, 1),
                                          BATCH, 0, 0, False)
    balance = Counter(t for _, t in samples)
    for epoch in (1, 2):
        loader.sampler.set_epoch(epoch)
        seen = Counter()
        for x, y in loader:
            assert x.dtype == torch.uint8 and x.shape[1:] == (3, SIZE, SIZE)
            seen.update(y.tolist())
        assert seen == balance


def _count_train_opens(monkeypatch, root):
    opened = []
    real = Image.open

    def counting(fp, *args, **kwargs):
        if isinstance(fp, str) and fp.startswith(root):
            opened.append(fp)
        return real(fp, *args, **kwargs)
    monkeypatch.setattr(Image, "open", counting)
    return opened


def test_cache_is_built_once_and_reused_by_later_epochs_and_runs(dataset, tmp_path, monkeypatch):
    opened = _count_train_opens(monkeypatch, dataset.train)
    flags = data_flags(dataset) + FAST_FLAGS + ["--epochs", "2", "--patience", "0", "--cache-dir", str(tmp_path / "c")]
    first = run_train(flags + ["--model-dir", str(tmp_path / "m1")])
    assert first.code == 0, first.stderr
    assert "cache: built {}, reused 0".format(dataset.n_train) in first.stderr
    # the build only, twice an image (its header to plan the layout, then its one decode): both
    # epochs read the cache
    assert len(opened) == 2 * dataset.n_train
    assert len(set(opened)) == dataset.n_train
    del opened[:]
    second = run_train(flags + ["--model-dir", str(tmp_path / "m2")])
    assert second.code == 0 and "cache: built 0, reused {}".format(dataset.n_train) in second.stderr
    assert opened == []
    entries = sorted(os.listdir(tmp_path / "c" / "s48"))  # one pixel cache: layout, pixels, done flags
    assert [e.split(".", 1)[1] for e in entries] == ["done", "idx.npy", "u8"]
    samples = train_data.scan_samples(dataset.train, train_data.class_folders(dataset.train))
    assert len(train_pipeline.cache_index(samples, str(tmp_path / "c"), 48)) == dataset.n_train


@pytest.mark.parametrize("flag", [["--no-cache"], ["--cache", "false"], ["--cache", "False"]])
def test_no_cache_decodes_the_originals_every_epoch(dataset, tmp_path, monkeypatch, flag):
    opened = _count_train_opens(monkeypatch, dataset.train)
    r = run_train(data_flags(dataset) + FAST_FLAGS + flag + [
        "--epochs", "2", "--patience", "0", "--cache-dir", str(tmp_path / "c"), "--model-dir", str(tmp_path / "m")])
    assert r.code == 0, r.stderr
    assert "cache: off" in r.stderr and not os.path.exists(tmp_path / "c")
    assert len(opened) == 2 * dataset.n_train
    assert len(r.metric_lines()) == 2


def test_cache_cap_stops_adding_entries(dataset, tmp_path):
    samples = train_data.scan_samples(dataset.train, train_data.class_folders(dataset.train))
    one = 32 * 32 * 4  # the synthetic images are 32 px: cached as they are, 4 bytes a pixel (RGBX)
    plans = []
    stats = train_pipeline.build_cache(samples, str(tmp_path), 48, max_bytes=5 * one + 20, announce=plans.append)
    assert stats["built"] == 5 and stats["skipped"] == len(samples) - 5 and stats["bytes"] == 5 * one
    assert len(train_pipeline.cache_index(samples, str(tmp_path), 48)) == 5
    # announced before the build: what fits, what all would take, where
    assert len(plans) == 1 and plans[0]["cached"] == 5 and plans[0]["bytes"] == 5 * one
    assert plans[0]["total_bytes"] == len(samples) * one and plans[0]["path"].endswith(".u8")
    assert os.path.getsize(plans[0]["path"]) == 5 * one  # the pixel file is no bigger than the cap allows


def _build_shard(args):
    samples, cache_dir, rank = args
    return train_pipeline.build_cache(samples, cache_dir, 48, shard=(rank, 2), workers=2)


def test_two_ranks_build_disjoint_shards_into_one_folder(dataset, tmp_path):
    samples = train_data.scan_samples(dataset.train, train_data.class_folders(dataset.train))
    cache_dir = str(tmp_path / "shared")
    with multiprocessing.get_context("fork").Pool(2) as pool:
        stats = pool.map(_build_shard, [(samples, cache_dir, 0), (samples, cache_dir, 1)])
    assert [s["built"] for s in stats] == [24, 24] and all(s["failed"] == 0 for s in stats)
    base = train_pipeline.cache_base(cache_dir, samples, 48)
    files = {os.path.join(cache_dir, "s48", f) for f in os.listdir(os.path.join(cache_dir, "s48"))}
    assert files == {base + ".u8", base + ".done", base + ".idx.npy"}  # no temporary files left behind
    index = train_pipeline.cache_index(samples, cache_dir, 48)
    assert sorted(index.rows) == list(range(len(samples)))
    for i in (0, 1, 47):  # every entry is complete and is the image it claims to be
        img, original = index.get(i)
        with Image.open(samples[i][0]) as src:
            assert original == src.size and img.convert("RGB").tobytes() == src.convert("RGB").tobytes()
    # Building the same shard again, from two processes at once, is harmless.
    with multiprocessing.get_context("fork").Pool(2) as pool:
        again = pool.map(_build_shard, [(samples, cache_dir, 0), (samples, cache_dir, 0)])
    assert [s["reused"] for s in again] == [24, 24]


def test_changed_image_or_size_gets_a_new_entry(tmp_path):
    path = _photo(str(tmp_path / "p.jpg"), (100, 80))
    a = train_pipeline.cache_base(str(tmp_path), [(path, 0)], 48)
    assert train_pipeline.cache_base(str(tmp_path), [(path, 0)], 64) != a
    os.utime(path, ns=(1, 1))
    assert train_pipeline.cache_base(str(tmp_path), [(path, 0)], 48) != a


def test_training_uses_the_new_pipeline_and_still_learns(trained):
    """The shared 5-epoch learning run (same seed budget as before) trains through the cache."""
    stderr = trained["result"].stderr
    assert re.search(r"cache: built \d+, reused \d+", stderr)
    accuracies = [float(re.search(r"val_accuracy=(\d\.\d+)", l).group(1)) for l in trained["result"].metric_lines()]
    assert max(accuracies) >= 0.75


# --------------------------------------------------------------------------- issue 32: pixel cache, crop law


@pytest.mark.parametrize("width,height", [(300, 225), (640, 480), (1000, 750), (4000, 3000), (225, 300),
                                          (1000, 90), (33, 31)])
def test_crop_params_are_torchvisions_for_the_same_rng_state(width, height):
    """The cheap sampler makes the same torch RNG calls as RandomResizedCrop.get_params, so the
    same crops come out, fallback (very wide images) included."""
    from torchvision import transforms
    shape = torch.empty((1, 1, 1), dtype=torch.uint8).expand(3, height, width)
    log_ratio = [float(r) for r in torch.log(torch.tensor(model_def.TRAIN_RATIO))]
    for seed in range(300):
        torch.manual_seed(seed)
        expected = transforms.RandomResizedCrop.get_params(shape, model_def.TRAIN_SCALE, model_def.TRAIN_RATIO)
        after = torch.rand(1)
        torch.manual_seed(seed)
        got = train_pipeline.crop_params(width, height, model_def.TRAIN_SCALE, log_ratio)
        assert got == expected and torch.equal(torch.rand(1), after), (seed, got, expected)


def _ks_statistic(a, b) -> float:
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    return float(np.max(np.abs(np.searchsorted(a, grid, "right") / len(a) - np.searchsorted(b, grid, "right") / len(b))))


def test_epoch_crop_scale_and_ratio_follow_random_resized_crop(tmp_path, monkeypatch):
    """Statistically, through the dataset and its pixel cache: the crops drawn for cached
    (reduced) images are drawn on the ORIGINAL size, and their area fraction and log aspect
    ratio follow RandomResizedCrop's law (two-sample Kolmogorov-Smirnov against torchvision's
    sampler on independent seeds; 1% critical value for 2000 + 2000 draws is 0.052)."""
    from torchvision import transforms
    paths = [_photo(str(tmp_path / "a.jpg"), (640, 480)), _photo(str(tmp_path / "bb.jpg"), (300, 400))]
    samples = [(p, 0) for p in paths]
    train_pipeline.build_cache(samples, str(tmp_path / "c"), 48)
    ds = train_pipeline.FastTrainDataset(samples, SIZE, train_pipeline.cache_index(samples, str(tmp_path / "c"), 48))
    assert len(ds.cache) == 2 and ds.cache.get(0)[0].size == (64, 48)  # reduced in the cache
    drawn, real = [], train_pipeline.crop_params

    def recording(width, height, scale, log_ratio):
        box = real(width, height, scale, log_ratio)
        drawn.append((width, height) + box)
        return box
    monkeypatch.setattr(train_pipeline, "crop_params", recording)
    torch.manual_seed(1)
    for k in range(2000):
        ds[k % 2]
    assert {(w, h) for w, h, *_ in drawn} == {(640, 480), (300, 400)}  # original sizes, not cached ones
    ours_scale = np.array([bw * bh / (w * h) for w, h, _, _, bh, bw in drawn])
    ours_ratio = np.log([bw / bh for w, h, _, _, bh, bw in drawn])
    torch.manual_seed(2)
    ref = []
    for k in range(2000):
        w, h = (640, 480) if k % 2 == 0 else (300, 400)
        _, _, bh, bw = transforms.RandomResizedCrop.get_params(
            torch.empty((1, 1, 1)).expand(3, h, w), model_def.TRAIN_SCALE, model_def.TRAIN_RATIO)
        ref.append((bw * bh / (w * h), math.log(bw / bh)))
    ref = np.array(ref)
    assert _ks_statistic(ours_scale, ref[:, 0]) < 0.052 and _ks_statistic(ours_ratio, ref[:, 1]) < 0.052
    # and the law itself: area fraction within scale (up to rounding), ratio within [3/4, 4/3]
    assert 0.07 < ours_scale.min() and ours_scale.max() <= 1.0
    assert math.log(3 / 4) - 0.02 < ours_ratio.min() and ours_ratio.max() < math.log(4 / 3) + 0.02


def test_a_changed_image_invalidates_the_cache_and_is_rebuilt(tmp_path):
    paths = [_photo(str(tmp_path / "a.jpg"), (120, 90)), _photo(str(tmp_path / "bb.jpg"), (90, 120))]
    samples = [(p, 0) for p in paths]
    cache_dir = str(tmp_path / "c")
    assert train_pipeline.build_cache(samples, cache_dir, 48)["built"] == 2
    assert train_pipeline.build_cache(samples, cache_dir, 48) == {
        "built": 0, "reused": 2, "skipped": 0, "failed": 0, "bytes": 2 * 64 * 48 * 4}
    Image.new("RGB", (200, 100), (250, 10, 10)).save(paths[1], "JPEG")  # same path, new picture and size
    assert train_pipeline.cache_index(samples, cache_dir, 48) is None  # the old cache is never read
    assert train_pipeline.build_cache(samples, cache_dir, 48)["built"] == 2
    img, original = train_pipeline.cache_index(samples, cache_dir, 48).get(1)
    assert original == (200, 100) and img.size == (96, 48)
    r, g, b = img.convert("RGB").getpixel((40, 20))
    assert r > 200 and g < 60 and b < 60


def test_the_cache_stays_within_the_free_disk(dataset, tmp_path, monkeypatch):
    samples = train_data.scan_samples(dataset.train, train_data.class_folders(dataset.train))
    one = 32 * 32 * 4
    free = train_pipeline.DISK_RESERVE_BYTES + 7 * one + 100
    monkeypatch.setattr(train_pipeline.shutil, "disk_usage", lambda path: shutil_usage(free))
    plans = []
    stats = train_pipeline.build_cache(samples, str(tmp_path), 48, announce=plans.append)
    assert stats["built"] == 7 and stats["skipped"] == len(samples) - 7 and stats["bytes"] == 7 * one
    assert plans[0]["free_bytes"] == free and plans[0]["cached"] == 7
    # a later run with room completes it, reusing what is there
    monkeypatch.setattr(train_pipeline.shutil, "disk_usage", lambda path: shutil_usage(1 << 40))
    again = train_pipeline.build_cache(samples, str(tmp_path), 48)
    assert again["reused"] == 7 and again["built"] == len(samples) - 7
    assert len(train_pipeline.cache_index(samples, str(tmp_path), 48)) == len(samples)


def shutil_usage(free):
    import collections
    return collections.namedtuple("usage", "total used free")(free * 2, free, free)


def test_unreadable_images_are_left_to_the_loader(tmp_path):
    good = _photo(str(tmp_path / "a.jpg"), (120, 90))
    bad = str(tmp_path / "bad.jpg")
    with open(bad, "wb") as fh:
        fh.write(b"not a jpeg")
    samples = [(good, 0), (bad, 1)]
    stats = train_pipeline.build_cache(samples, str(tmp_path / "c"), 48)
    assert stats["built"] == 1 and stats["failed"] == 1
    ds = train_pipeline.FastTrainDataset(samples, SIZE, train_pipeline.cache_index(samples, str(tmp_path / "c"), 48))
    assert ds[0][0].shape == (3, SIZE, SIZE) and 1 not in ds.cache
    # The loader names it and takes the next image instead of ending the job mid-epoch (issue 27).
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        image, target = ds[1]
    assert image.shape == (3, SIZE, SIZE) and target == 0
    assert "warning: skipped unreadable image {} (".format(bad) in err.getvalue()


def test_the_cache_pickles_for_spawned_workers(dataset, tmp_path):
    import pickle
    samples = train_data.scan_samples(dataset.train, train_data.class_folders(dataset.train))
    train_pipeline.build_cache(samples, str(tmp_path), 48)
    ds = train_pipeline.FastTrainDataset(samples, SIZE, train_pipeline.cache_index(samples, str(tmp_path), 48))
    ds[0]  # maps the file in this process
    copy = pickle.loads(pickle.dumps(ds))
    torch.manual_seed(3)
    a = ds[5][0]
    torch.manual_seed(3)
    assert torch.equal(copy[5][0], a)


def test_cpu_normalize_is_bit_identical_to_the_torch_path():
    batch = torch.randint(0, 256, (5, 3, 8, 8), dtype=torch.uint8)  # odd: normalised two images at a time
    m = torch.tensor(model_def.IMAGENET_MEAN).view(1, 3, 1, 1)
    s = torch.tensor(model_def.IMAGENET_STD).view(1, 3, 1, 1)
    expected = batch.float().div_(255.0).sub_(m).div_(s)
    assert torch.equal(train_pipeline.normalize(batch, torch.device("cpu")), expected)
    cl = train_pipeline.normalize(batch, torch.device("cpu"), memory_format=torch.channels_last)
    assert cl.is_contiguous(memory_format=torch.channels_last) and torch.equal(cl, expected)


def test_resize_backend_follows_the_torch_version(dataset, tmp_path, monkeypatch):
    """torch >= 2 resizes uint8 itself; torch 1.x (Debian's 1.13) has no uint8 kernel and falls
    back to PIL, which is then exactly torchvision's PIL transform."""
    major = int(torch.__version__.split(".")[0])
    assert train_pipeline.TORCH_UINT8_RESIZE == (major >= 2)
    samples = train_data.scan_samples(dataset.train, train_data.class_folders(dataset.train))[:6]
    train_pipeline.build_cache(samples, str(tmp_path), 48)
    index = train_pipeline.cache_index(samples, str(tmp_path), 48)
    monkeypatch.setattr(train_pipeline, "TORCH_UINT8_RESIZE", False)
    fallback = train_pipeline.FastTrainDataset(samples, SIZE, index)
    assert fallback.torch_resize is False
    old = train_data.ImageListDataset(samples, model_def.train_transform(SIZE))
    for seed in range(3):
        torch.manual_seed(seed)
        expected = torch.stack([old[i][0] for i in range(6)])
        torch.manual_seed(seed)
        got = train_pipeline.normalize(torch.stack([fallback[i][0] for i in range(6)]), torch.device("cpu"))
        assert torch.equal(got, expected)


@pytest.mark.skipif(not train_pipeline.TORCH_UINT8_RESIZE, reason="torch 1.x: no uint8 resize kernel")
def test_torch_resize_is_pils_within_one_level(dataset, tmp_path):
    samples = train_data.scan_samples(dataset.train, train_data.class_folders(dataset.train))[:6]
    train_pipeline.build_cache(samples, str(tmp_path), 48)
    index = train_pipeline.cache_index(samples, str(tmp_path), 48)
    fast = train_pipeline.FastTrainDataset(samples, SIZE, index, torch_resize=True)
    pil = train_pipeline.FastTrainDataset(samples, SIZE, index, torch_resize=False)
    for seed in range(10):
        for i in range(6):
            torch.manual_seed(seed)
            a = fast[i][0]
            torch.manual_seed(seed)
            b = pil[i][0]
            assert a.shape == b.shape == (3, SIZE, SIZE) and (a.int() - b.int()).abs().max() <= 1


def test_resized_crop_uint8_geometry_and_flip():
    """The torch path's crop box and flip, on an image whose columns and rows are numbered."""
    if not train_pipeline.TORCH_UINT8_RESIZE:
        with pytest.raises(RuntimeError):  # torch 1.x: the fallback above is what runs
            train_pipeline.resized_crop_uint8(torch.zeros((8, 8, 4), dtype=torch.uint8), 0, 0, 8, 8, 4, False)
        return
    cols = torch.arange(100, dtype=torch.uint8).view(1, 100, 1).expand(60, 100, 4).contiguous()
    out = train_pipeline.resized_crop_uint8(cols, 10, 20, 40, 40, 40, False)
    assert out.shape == (3, 40, 40) and int(out[0, 0, 0]) == 20 and int(out[0, 0, 39]) == 59
    flipped = train_pipeline.resized_crop_uint8(cols, 10, 20, 40, 40, 40, torch.tensor([True]))
    assert torch.equal(flipped, out.flip(-1))


# --------------------------------------------------------------------------- issue 32: batches in one buffer


class _IndexPixels(train_pipeline.FastTrainDataset):
    """Every pixel of sample i is i % 251 and its class is i, so a batch shows which samples it
    holds; a few samples are slow, so the workers finish out of order."""

    def _write(self, i, out):
        if i % 7 == 0:
            time.sleep(0.003)
        out[...] = i % 251
        return i


@pytest.mark.parametrize("workers,batch", [(0, 16), (2, 32), (2, 16), (2, 40)])
def test_batches_are_whole_and_never_overwritten_while_held(workers, batch):
    """Every epoch: each sample exactly once, each batch's pixels its own samples', even when the
    consumer keeps every batch (list(loader)) while the workers fill the ring again and again."""
    n = 300
    ds = _IndexPixels([("unused", i) for i in range(n)], 8)
    loader = train_data.make_train_loader(ds, train_dist.DistContext(), (0, 1), batch, workers, 0, False)
    assert isinstance(loader, train_pipeline.BatchLoader) and len(loader) == math.ceil(n / batch)
    for epoch in (0, 1):
        loader.sampler.set_epoch(epoch)
        batches = list(loader)
        assert len(batches) == len(loader)
        seen = []
        for x, y in batches:
            assert x.dtype == torch.uint8 and x.shape == (len(y), 3, 8, 8) and y.dtype == torch.int64
            assert torch.equal(x, (y % 251).to(torch.uint8).view(-1, 1, 1, 1).expand_as(x))
            seen += y.tolist()
        assert sorted(seen) == list(range(n))


def _epoch_order(n, epoch, seed=0):
    sampler = torch.utils.data.DistributedSampler(range(n), num_replicas=1, rank=0, shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    return list(sampler)


@pytest.mark.parametrize("workers", [0, 2])
def test_epochs_run_on_in_one_stream_and_any_other_pass_starts_it_again(workers):
    """Epoch after epoch (set_epoch(e + 1) after a whole pass of e), one stream of tasks: the workers
    go on into the next epoch, each epoch in its own shuffle. A pass for any other epoch, a pass left
    early, or the same epoch again, starts the stream again at set_epoch's epoch: each pass is still
    every sample once, in that epoch's order."""
    n, batch = 150, 32
    ds = _IndexPixels([("unused", i) for i in range(n)], 8)
    loader = train_data.make_train_loader(ds, train_dist.DistContext(), (0, 1), batch, workers, 0, False)

    def one_pass(epoch, stop=None):
        loader.sampler.set_epoch(epoch)
        order = []
        for k, (x, y) in enumerate(loader):
            assert torch.equal(x, (y % 251).to(torch.uint8).view(-1, 1, 1, 1).expand_as(x))
            order += y.tolist()
            if k + 1 == stop:
                break
        return order

    assert one_pass(0) == _epoch_order(n, 0) and loader.streams_started == 1
    assert one_pass(1) == _epoch_order(n, 1) and loader.streams_started == 1  # ran on, not started again
    assert one_pass(2, stop=2) == _epoch_order(n, 2)[:2 * batch]  # left early ...
    assert one_pass(3) == _epoch_order(n, 3) and loader.streams_started == 2  # ... so epoch 3 starts again
    assert one_pass(7) == _epoch_order(n, 7) and loader.streams_started == 3  # not the next epoch
    assert one_pass(7) == _epoch_order(n, 7) and loader.streams_started == 4  # the same epoch again
    assert one_pass(8) == _epoch_order(n, 8) and loader.streams_started == 4


class _RecordedSampler(torch.utils.data.DistributedSampler):
    def __init__(self, n):
        super().__init__(range(n), num_replicas=1, rank=0, shuffle=True, seed=0)
        self.epochs_drawn = []

    def set_epoch(self, epoch):
        self.epochs_drawn.append(epoch)
        super().set_epoch(epoch)


@pytest.mark.parametrize("last_epoch", [None, 2])
def test_the_stream_runs_ahead_into_the_next_epoch_but_not_past_the_last(last_epoch):
    """With workers the stream draws the next epoch's tasks while this one's last batches are taken;
    told the last epoch (train.py's --epochs), it draws nothing past it. A pass for a later epoch
    still gets that epoch."""
    n, batch = 96, 32
    ds = _IndexPixels([("unused", i) for i in range(n)], 8)
    sampler = _RecordedSampler(n)
    loader = train_pipeline.BatchLoader(ds, sampler, batch, 2, False, last_epoch=last_epoch)
    for epoch in (1, 2):
        loader.sampler.set_epoch(epoch)
        assert [i for _, y in loader for i in y.tolist()] == _epoch_order(n, epoch)
    # the DataLoader draws the tasks it hands out in this process, as each result comes back
    assert sampler.epochs_drawn == ([1, 2] if last_epoch == 2 else [1, 2, 3])
    loader.sampler.set_epoch(3)
    assert [i for _, y in loader for i in y.tolist()] == _epoch_order(n, 3)


@pytest.mark.parametrize("workers,batch,size", [(1, 64, 200), (2, 64, 200), (2, 16, 37), (3, 64, 1000),
                                                (8, 64, 500), (8, 8, 300), (8, 64, 66), (4, 64, 131)])
def test_ring_has_enough_slots_for_what_the_dataloader_runs_ahead(workers, batch, size):
    """The DataLoader's rule, simulated over a stream of six epochs: task t + P is handed out when
    task t is taken back, in order; a batch is copied out of its slot once its last part is taken
    back. No task may be handed out into the slot of a batch not yet copied, across epochs too,
    where a short last batch (fewer parts) sits between full ones. One slot fewer breaks it."""
    parts = max(1, min(workers, batch // train_pipeline.BatchLoader.MIN_PART))
    in_flight = train_pipeline.BatchLoader.PREFETCH * workers
    batch_parts = train_pipeline.BatchChunks(range(size), batch, False, parts, 1).batch_parts()

    def collides(slots):
        tasks = list(train_pipeline.BatchChunks(range(size), batch, False, parts, slots, epochs=6))
        number = [0] * len(tasks)  # the batch of each task, through the whole stream
        for t in range(1, len(tasks)):
            number[t] = number[t - 1] + (tasks[t][1] == 0)
        # handed out: a batch between the last one copied out and the new task's own batch shares its slot
        if number[min(in_flight, len(tasks)) - 1] >= slots:  # the first in_flight tasks, at the start
            return True
        copied = -1
        for t, (slot, offset, length, part) in enumerate(tasks):  # task t comes back ...
            new = t + in_flight  # ... and this one is handed out, before the loader looks at t
            if new < len(tasks):
                assert tasks[new][0] == number[new] % slots
                if number[new] - (copied + 1) >= slots:
                    return True
            if offset + len(part) == length:
                copied = number[t]
        return False

    slots = train_pipeline.ring_slots(in_flight, batch_parts)
    assert not collides(slots)
    assert collides(slots - 1) or slots == 1


def test_the_stream_sets_each_epoch_before_drawing_it():
    """BatchChunks runs on from one epoch into the next: set_epoch(e) before epoch e's first task,
    each epoch's batches in that epoch's shuffle, the batches numbered through the whole stream."""
    sampler = torch.utils.data.DistributedSampler(range(10), num_replicas=1, rank=0, shuffle=True, seed=3)
    tasks = list(train_pipeline.BatchChunks(sampler, 4, False, 2, 5, start=7, epochs=2))
    assert [len(t[3]) for t in tasks] == [2, 2, 2, 2, 1, 1] * 2
    assert [t[0] for t in tasks] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 0, 0]
    for epoch, part in ((7, tasks[:6]), (8, tasks[6:])):
        sampler.set_epoch(epoch)
        assert [i for t in part for i in t[3]] == list(sampler)


def test_write_batch_is_getitem_sample_by_sample(tmp_path):
    """The same RNG calls in the same order: a batch written in place equals the samples one by one,
    an unreadable image replaced by the next as __getitem__ does."""
    paths = [_photo(str(tmp_path / "{}.jpg".format(k)), (120 + 40 * k, 90)) for k in range(3)]
    bad = str(tmp_path / "bad.jpg")
    with open(bad, "wb") as fh:
        fh.write(b"not a jpeg")
    samples = [(paths[0], 0), (bad, 1), (paths[1], 2), (paths[2], 3)]
    train_pipeline.build_cache(samples[:1], str(tmp_path / "c"), 48)
    ds = train_pipeline.FastTrainDataset(samples, SIZE)
    order = [3, 1, 0, 2, 1]
    torch.manual_seed(4)
    with contextlib.redirect_stderr(io.StringIO()):
        expected = [ds[i] for i in order]
    out = np.zeros((len(order), 3, SIZE, SIZE), np.uint8)
    torch.manual_seed(4)
    with contextlib.redirect_stderr(io.StringIO()):
        targets = ds.write_batch(order, out)
    assert targets == [t for _, t in expected] == [3, 2, 0, 2, 2]
    assert torch.equal(torch.from_numpy(out), torch.stack([x for x, _ in expected]))


def test_cached_pixels_are_an_rgb_image_without_a_copy(dataset, tmp_path, monkeypatch):
    """PIL resizes an RGB image as 3 bands, an RGBX one as 4: the cache hands out RGB views of its
    RGBX bytes (PIL's own RGB layout), the same pixels, no conversion, no copy."""
    samples = train_data.scan_samples(dataset.train, train_data.class_folders(dataset.train))[:3]
    train_pipeline.build_cache(samples, str(tmp_path), 48)
    index = train_pipeline.cache_index(samples, str(tmp_path), 48)
    img, original = index.get(1)
    assert img.mode == "RGB" and img.readonly
    with Image.open(samples[1][0]) as src:
        assert original == src.size and img.tobytes() == src.convert("RGB").tobytes()
    pixels = bytearray(b"\x01\x02\x03\x09" * 6)
    view = train_pipeline.rgb_view(memoryview(pixels), (3, 2))
    pixels[4:7] = b"\xfa\xfb\xfc"  # the view sees the change: the buffer itself, not a copy
    assert view.mode == "RGB" and view.getpixel((0, 0)) == (1, 2, 3) and view.getpixel((1, 0)) == (250, 251, 252)
    # a PIL that will not map RGB: the RGBX view (a 4-band resize, the same pixels)
    real = Image.core.map_buffer

    def rgbx_only(data, size, decoder, offset, args):
        if args[0] == "RGB":
            raise ValueError("unrecognized image mode")
        return real(data, size, decoder, offset, args)
    monkeypatch.setattr(Image.core, "map_buffer", rgbx_only)
    fallback = train_pipeline.rgb_view(memoryview(pixels), (3, 2))
    assert fallback.mode == "RGBX" and fallback.convert("RGB").tobytes() == view.tobytes()


def test_keep_freed_memory_serves_a_big_batch_again_without_page_faults():
    """glibc maps an allocation of over 32 MB afresh each time (page faults, zeroing); after
    train.keep_freed_memory() the second 40 MB batch reuses the first one's pages."""
    probe = textwrap.dedent("""
        import resource, sys, numpy as np
        sys.path.insert(0, {scripts!r})
        import train
        if sys.argv[1] == "keep":
            assert train.keep_freed_memory()
        def faults_of_one_batch():
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            batch = np.ones(40 << 20, np.uint8)  # touched: every page
            del batch
            return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
        faults_of_one_batch()
        print(faults_of_one_batch())
    """).format(scripts=SCRIPTS)
    faults = {mode: int(subprocess.run([sys.executable, "-c", probe, mode], check=True, capture_output=True,
                                       text=True).stdout) for mode in ("default", "keep")}
    # mapped afresh: every page faults again (numpy asks for 2 MB huge pages where it can: 20 of them)
    assert faults["default"] >= (40 << 20) // (2 << 20)
    assert faults["keep"] <= faults["default"] // 10
