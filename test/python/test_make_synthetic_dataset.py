import hashlib
import os

from PIL import Image

from conftest import REPO, clean_env, run_subprocess

SCRIPT = os.path.join(REPO, "scripts-dev", "make_synthetic_dataset.py")


def _digest(root):
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        dirnames.sort()
        for name in sorted(filenames):
            h.update(name.encode())
            with open(os.path.join(dirpath, name), "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()


def test_cli_writes_breed_folders_with_jpegs_deterministically(tmp_path):
    args = ["--classes", "4", "--train-per-class", "3", "--valid-per-class", "2", "--test-per-class", "1",
            "--size", "40", "--seed", "7"]
    for out in ("a", "b"):
        r = run_subprocess([SCRIPT, "--out", str(tmp_path / out)] + args, clean_env(), timeout=60)
        assert r.code == 0, r.stderr
    assert "wrote 24 images" in r.stdout
    root = tmp_path / "a"
    assert sorted(os.listdir(root)) == ["test", "train", "valid"]
    assert sorted(os.listdir(root / "train")) == [
        "001.Affenpinscher", "002.Afghan_hound", "003.Airedale_terrier", "004.Akita"]
    counts = {split: [len(os.listdir(root / split / c)) for c in sorted(os.listdir(root / split))]
              for split in ("train", "valid", "test")}
    assert counts == {"train": [3, 3, 3, 3], "valid": [2, 2, 2, 2], "test": [1, 1, 1, 1]}
    first = root / "train" / "001.Affenpinscher" / "001_0000.jpg"
    with Image.open(first) as img:
        assert (img.format, img.size, img.mode) == ("JPEG", (40, 40), "RGB")
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")  # same seed, same bytes


def test_many_classes_get_generic_names(tmp_path):
    import make_synthetic_dataset as m

    assert m.class_folder(0) == "001.Affenpinscher"
    assert m.class_folder(132) == "133.Breed_133"


def test_classes_differ_in_colour(tmp_path):
    """Learnable: the mean colour of two classes differs far more than within a class."""
    import random

    import make_synthetic_dataset as m

    def mean_rgb(c, i):
        img = m.render_image(c, 4, 32, random.Random(i))
        pixels = list(img.getdata())
        return [sum(p[k] for p in pixels) / len(pixels) for k in range(3)]

    def dist(a, b):
        return sum((x - y) ** 2 for x, y in zip(a, b)) ** 0.5

    within = dist(mean_rgb(0, 1), mean_rgb(0, 2))
    between = dist(mean_rgb(0, 1), mean_rgb(2, 1))
    assert between > within


def test_sample_and_bad_arguments(tmp_path):
    r = run_subprocess([SCRIPT, "--sample", str(tmp_path / "s.jpg"), "--size", "224"], clean_env(), timeout=60)
    assert r.code == 0, r.stderr
    with Image.open(tmp_path / "s.jpg") as img:
        assert img.size == (224, 224)
    r = run_subprocess([SCRIPT], clean_env(), timeout=60)
    assert r.code == 2 and "--out" in r.stderr


def test_checked_in_sample_image_is_small_jpeg():
    path = os.path.join(REPO, "assets", "sample.jpg")
    assert os.path.getsize(path) < 40 * 1024
    with Image.open(path) as img:
        assert (img.format, img.size) == ("JPEG", (224, 224))
