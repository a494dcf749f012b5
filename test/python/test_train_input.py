"""Training input (issue 27): an unreadable image is skipped and named instead of killing the job
mid-epoch; one class, a class with no training image, or a class folder whose name is not UTF-8 is
refused (exit 2) before training; a multi-page TIFF trains on its first page, as the predictor reads it."""
from __future__ import annotations

import io
import json
import os
import shutil

import pytest
from PIL import Image

from conftest import FAST_FLAGS, data_flags, run_train, Dataset

import inference
import train_data


def _copy(dataset, tmp_path) -> Dataset:
    root = str(tmp_path / "data")
    shutil.copytree(dataset.root, root)
    return Dataset(root, os.path.join(root, "train"), os.path.join(root, "valid"), os.path.join(root, "test"),
                   dataset.n_train)


def _first_image(folder):
    return os.path.join(folder, sorted(os.listdir(folder))[0])


def _run(ds, tmp_path, *extra):
    return run_train(data_flags(ds) + FAST_FLAGS + [
        "--epochs", "1", "--model-dir", str(tmp_path / "model"), "--output-data-dir", str(tmp_path / "out"),
        "--checkpoint-dir", "", *extra])


def _classes(ds):
    return sorted(os.listdir(ds.train))


def test_unreadable_images_are_skipped_with_a_count_and_their_names(dataset, tmp_path):
    ds = _copy(dataset, tmp_path)
    c0, c1 = _classes(ds)[:2]
    with open(os.path.join(ds.train, c0, "zz-garbage.jpg"), "wb") as fh:
        fh.write(b"\xff\xd8\xff this is no image at all")
    with open(os.path.join(ds.valid, c1, "zz-html.png"), "wb") as fh:
        fh.write(b"<html>not a png</html>")
    # A JPEG cut short after its header: opens, fails when decoded (mid-epoch, inside the loader).
    with open(_first_image(os.path.join(ds.train, c1)), "rb") as fh:
        whole = fh.read()
    with open(os.path.join(ds.train, c1, "zz-truncated.jpg"), "wb") as fh:
        fh.write(whole[: whole.index(b"\xff\xda") + 30])  # the headers whole, the scan data cut short
    for cache in ([], ["--no-cache"]):
        r = _run(ds, tmp_path, *cache)
        assert r.code == 0, r.stderr
        assert "warning: skipped 1 unreadable image in {}:".format(ds.train) in r.stderr
        assert "  {} (".format(os.path.join(c0, "zz-garbage.jpg")) in r.stderr
        assert "warning: skipped 1 unreadable image in {}:".format(ds.valid) in r.stderr
        assert os.path.join(c1, "zz-html.png") in r.stderr
        assert "warning: skipped unreadable image {}".format(os.path.join(ds.train, c1, "zz-truncated.jpg")) in r.stderr
        assert len(r.metric_lines()) == 1
        assert "Traceback" not in r.stderr


def test_one_class_is_refused_before_training(dataset, tmp_path):
    ds = _copy(dataset, tmp_path)
    keep = _classes(ds)[0]
    for split in (ds.train, ds.valid, ds.test):
        for c in os.listdir(split):
            if c != keep:
                shutil.rmtree(os.path.join(split, c))
    r = _run(ds, tmp_path)
    assert r.code == 2
    assert "error: only one class folder ({}) in {}: a classifier needs at least two".format(keep, ds.train) in r.stderr
    assert r.metric_lines() == []


def test_a_class_with_no_readable_training_image_is_refused(dataset, tmp_path):
    ds = _copy(dataset, tmp_path)
    empty = _classes(ds)[1]
    folder = os.path.join(ds.train, empty)
    for name in os.listdir(folder):
        with open(os.path.join(folder, name), "wb") as fh:
            fh.write(b"garbage")
    r = _run(ds, tmp_path)
    assert r.code == 2, r.stderr
    assert "error: no readable training images for 1 class in {}: {}".format(ds.train, empty) in r.stderr
    os.makedirs(os.path.join(ds.train, "zz-empty"))
    r = _run(ds, tmp_path)
    assert r.code == 2
    assert "for 2 classes in {}: {}, zz-empty".format(ds.train, empty) in r.stderr


def test_a_class_folder_whose_name_is_not_utf8_is_refused_with_the_rename(dataset, tmp_path):
    ds = _copy(dataset, tmp_path)
    first = _classes(ds)[0]
    for split in (ds.train, ds.valid, ds.test):
        os.rename(os.fsencode(os.path.join(split, first)), os.fsencode(split) + b"/caf\xe9")
    r = _run(ds, tmp_path)
    assert r.code == 2, r.stderr
    assert ("error: the class folder $'caf\\xe9' in {0} has a name that is not UTF-8 (labels and S3 keys must be); "
            "rename it in every split, e.g. mv $'{0}/caf\\xe9' '{0}/café'".format(ds.train)) in r.stderr
    assert "Traceback" not in r.stderr


def _multipage_tiff(colour_pages):
    buf = io.BytesIO()
    pages = [Image.new("RGB", (40, 40), c) for c in colour_pages]
    pages[0].save(buf, "TIFF", save_all=True, append_images=pages[1:])
    return buf.getvalue()


def test_a_multipage_tiff_trains_on_its_first_page_as_the_predictor_reads_it(dataset, tmp_path):
    data = _multipage_tiff([(200, 30, 30), (30, 200, 30), (30, 30, 200)])
    assert Image.open(io.BytesIO(data)).n_frames == 3
    assert inference.decode_image(data).getpixel((0, 0)) == (200, 30, 30)  # the predictor: first page
    ds = _copy(dataset, tmp_path)
    for split in (ds.train, ds.valid, ds.test):
        for c in _classes(ds):
            with open(os.path.join(split, c, "scan.tiff"), "wb") as fh:
                fh.write(data)
    samples = train_data.scan_samples(ds.train, _classes(ds))
    tiffs = [s for s in samples if s[0].endswith(".tiff")]
    assert len(tiffs) == len(_classes(ds))
    assert train_data.readable_samples(tiffs) == (tiffs, [])
    for cache in ([], ["--no-cache"]):
        r = _run(ds, tmp_path, *cache)
        assert r.code == 0, r.stderr
        assert "warning: skipped" not in r.stderr
    with open(str(tmp_path / "out" / "metrics.json")) as fh:
        assert json.load(fh)["epochs_run"] == 1
