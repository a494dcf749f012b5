"""train.py's training input pipeline: the same augmentation as model_def.train_transform, cheaper.

model_def.train_transform (RandomResizedCrop(scale=TRAIN_SCALE, ratio=TRAIN_RATIO), horizontal
flip, ToTensor, ImageNet Normalize) on a full PIL decode costs ~12 ms per photo per core, which
starves a GPU on a 4-vCPU box (issue 17). This pipeline keeps the distribution and moves the cost:

* The crop is drawn with torchvision's own RandomResizedCrop.get_params on the ORIGINAL image
  size, then the flip, in that order: the same torch RNG calls as the old Compose, so the scale and
  ratio distribution (and, for a given seed, the very crops) are unchanged.
* A one-time cache (build_cache) keeps each training image decoded, as raw RGB, with its short side
  reduced to cache_scale x image_size (never enlarged). Built at job start with a thread pool,
  reused every epoch; the crop box is mapped from original to cached coordinates.
* Images not in the cache are decoded with PIL's JPEG draft mode at 1/2, 1/4 or 1/8 scale when the
  drawn crop still has at least image_size pixels each way at that scale (box mapped the same way).
* Workers return uint8 CHW tensors (4x less to pickle and to copy to the GPU); normalize() turns a
  batch into normalised floats on the device.

Several processes: each builds only its shard of the cache (every local_world-th image from its
local rank), files are written to a temporary name and renamed into place (atomic), so processes
or hosts sharing a cache folder never see half a file; every process reads whatever is complete.
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import math
import os
import struct
import tempfile
import threading

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import transforms

import model_def

CACHE_MAGIC = b"MLC1"
_HEADER = struct.Struct("<4sIIII")  # magic, cached width, height, original width, height


def default_cache_dir(env) -> str:
    """The job's local scratch: SageMaker's input volume (not uploaded, unlike output/), else tmp."""
    if env.get("SM_INPUT_DIR"):
        return os.path.join(env["SM_INPUT_DIR"], "mlops-cache")
    return os.path.join(tempfile.gettempdir(), "mlops-train-cache")


def cache_short_side(image_size: int, cache_scale: float) -> int:
    return int(math.ceil(image_size * cache_scale))


def cache_path(cache_dir: str, path: str, short_side: int) -> str:
    """Where ``path``'s cached copy lives: keyed by the file's identity and the cached size, so a
    changed image or another --image-size never reads a stale entry."""
    st = os.stat(path)
    key = "{}|{}|{}|{}".format(os.path.abspath(path), st.st_size, st.st_mtime_ns, short_side)
    return os.path.join(cache_dir, "s{}".format(short_side), hashlib.sha1(key.encode()).hexdigest() + ".rgb")


def _reduced(img: Image.Image, short_side: int) -> Image.Image:
    """RGB copy with the short side brought down to ``short_side`` (draft decode, then resize)."""
    w, h = img.size
    factor = min(w, h) / short_side
    if factor > 1 and img.format == "JPEG":
        img.draft("RGB", (int(math.ceil(w / factor)), int(math.ceil(h / factor))))
    img = img.convert("RGB")
    if min(img.size) > short_side:
        factor = min(img.size) / short_side
        img = img.resize((max(short_side, round(img.size[0] / factor)), max(short_side, round(img.size[1] / factor))),
                         Image.BILINEAR)
    return img


def write_cache_entry(src: str, dest: str, short_side: int) -> int:
    """Decode ``src`` once, store it reduced and raw; returns the bytes written."""
    with Image.open(src) as img:
        original = img.size
        small = _reduced(img, short_side)
    data = _HEADER.pack(CACHE_MAGIC, small.size[0], small.size[1], original[0], original[1]) + small.tobytes()
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    tmp = "{}.tmp-{}-{}".format(dest, os.getpid(), threading.get_ident())
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, dest)  # atomic: readers see the whole file or none
    return len(data)


def read_cache_entry(path: str):
    """(RGB image at cached size, original (width, height))."""
    with open(path, "rb") as fh:
        data = fh.read()
    magic, w, h, ow, oh = _HEADER.unpack_from(data)
    if magic != CACHE_MAGIC or len(data) != _HEADER.size + w * h * 3:
        raise ValueError("corrupt cache entry {}".format(path))
    return Image.frombuffer("RGB", (w, h), data[_HEADER.size:], "raw", "RGB", 0, 1), (ow, oh)


def build_cache(samples, cache_dir: str, short_side: int, shard=(0, 1), max_bytes: float = float("inf"),
                workers: int = 1) -> dict:
    """Cache this shard's images (rank r of w builds samples r, r+w, ...) in parallel threads
    (PIL releases the GIL while decoding and resizing). Entries already there are reused.
    Stops adding once the shard's share of ``max_bytes`` is used. Returns counts."""
    rank, world = shard
    budget = max_bytes / max(world, 1)
    todo, used, reused = [], 0, 0
    for path, _ in samples[rank::world]:
        dest = cache_path(cache_dir, path, short_side)
        if os.path.exists(dest):
            used += os.path.getsize(dest)
            reused += 1
        else:
            todo.append((path, dest))
    built = skipped = failed = 0
    lock = threading.Lock()

    def one(item):
        nonlocal used, built, skipped, failed
        with lock:
            if used >= budget:
                skipped += 1
                return
        try:
            size = write_cache_entry(item[0], item[1], short_side)
        except (OSError, ValueError):  # unreadable here: the loader reports it properly later
            with lock:
                failed += 1
            return
        with lock:
            used += size
            built += 1

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(one, todo))
    return {"built": built, "reused": reused, "skipped": skipped, "failed": failed, "bytes": used}


def cache_index(samples, cache_dir: str, short_side: int) -> dict:
    """{sample index: cache file} for every complete entry, whoever built it."""
    index = {}
    for i, (path, _) in enumerate(samples):
        dest = cache_path(cache_dir, path, short_side)
        if os.path.exists(dest):
            index[i] = dest
    return index


def _shape(width: int, height: int):
    """A zero-storage tensor of an image's shape, to ask torchvision for crop parameters."""
    return torch.empty((1, 1, 1), dtype=torch.uint8).expand(3, height, width)


class FastTrainDataset(Dataset):
    """(uint8 tensor 3 x size x size, class) per sample; see the module docstring."""

    def __init__(self, samples, image_size: int, cache: dict = None, scale=model_def.TRAIN_SCALE,
                 ratio=model_def.TRAIN_RATIO):
        self.samples, self.size, self.cache = samples, image_size, dict(cache or {})
        self.scale, self.ratio = scale, ratio

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        path, target = self.samples[i]
        cached = self.cache.get(i)
        if cached is not None:
            img, (width, height) = read_cache_entry(cached)
            return self._augment(img, width, height), target
        with Image.open(path) as img:
            return self._augment(img, *img.size), target

    def _augment(self, img, width, height):
        # Same RNG calls, same order as RandomResizedCrop then RandomHorizontalFlip.
        top, left, h, w = transforms.RandomResizedCrop.get_params(_shape(width, height), self.scale, self.ratio)
        flip = torch.rand(1) < 0.5
        drafted = False
        if img.size == (width, height) and img.format == "JPEG":
            shrink = min(w, h) / self.size  # draft only as far as the crop keeps >= size pixels
            if shrink >= 2:
                img.draft("RGB", (int(math.ceil(width / shrink)), int(math.ceil(height / shrink))))
                drafted = img.size != (width, height)
        img = img.convert("RGB")
        size = (self.size, self.size)
        if img.size == (width, height):  # exactly what torchvision does
            out = img.crop((left, top, left + w, top + h)).resize(size, Image.BILINEAR)
        else:  # the crop box in the reduced image's coordinates
            if drafted:  # JPEG DCT scaling is exactly 1/2, 1/4 or 1/8 (the last block may be partial)
                sx = sy = 2.0 ** round(math.log2(width / img.size[0]))
            else:
                sx, sy = width / img.size[0], height / img.size[1]
            out = img.resize(size, Image.BILINEAR, box=(left / sx, top / sy, (left + w) / sx, (top + h) / sy))
        if flip:
            out = out.transpose(Image.FLIP_LEFT_RIGHT)
        return torch.frombuffer(bytearray(out.tobytes()), dtype=torch.uint8).view(self.size, self.size, 3).permute(2, 0, 1)


def normalize(batch: torch.Tensor, device, mean=model_def.IMAGENET_MEAN, std=model_def.IMAGENET_STD,
              memory_format=torch.contiguous_format) -> torch.Tensor:
    """uint8 N x 3 x H x W (any device) -> float, /255, ImageNet-normalised, on ``device``:
    the ToTensor + Normalize of the old transform, done where the compute is."""
    x = batch.to(device, non_blocking=True).to(memory_format=memory_format).float()
    m = torch.tensor(mean, device=x.device).view(1, 3, 1, 1)
    s = torch.tensor(std, device=x.device).view(1, 3, 1, 1)
    # The same float32 operations in the same order as ToTensor then Normalize: bit-identical.
    return x.div_(255.0).sub_(m).div_(s)
