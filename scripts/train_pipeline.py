"""train.py's training input pipeline: the same augmentation as model_def.train_transform, cheaper.

model_def.train_transform (RandomResizedCrop(scale=TRAIN_SCALE, ratio=TRAIN_RATIO), horizontal
flip, ToTensor, ImageNet Normalize) on a full PIL decode costs 2.5 ms (300 px photos) to 100+ ms
(12 MP) of CPU per image. This pipeline keeps the distribution and moves the cost (issues 17, 32):

* The crop is drawn on the ORIGINAL image size with the same torch RNG calls, in the same order,
  as RandomResizedCrop.get_params, then the flip (crop_params: bit-identical to torchvision's, so
  the scale and ratio distribution, and for a given seed the very crops, are unchanged).
* A one-time pixel cache (build_cache): every training image decoded once, as raw uint8 RGBX (PIL's
  own in-memory layout of an RGB image, so an image is mapped without a copy or conversion), with its short
  side reduced to cache_scale x image_size (never enlarged), all in ONE memory-mapped file. Its
  layout (offset and size of every image) is planned from the file headers before any pixel is
  decoded, so the size is known, capped (--cache-max-gb and the free disk) and announced up front,
  and the space is reserved with posix_fallocate before writing. Reading an image is a zero-copy
  view of the mapping: no open, no read, no decode, no per-file syscalls.
* Crop and resize are one call on that view: torch's uint8 antialiased bilinear kernel (torch >= 2,
  2-3x faster than PIL, within 1 level of it) for images cached at their own size, else PIL's
  resize with the crop box mapped into cached coordinates (torch 1.x has no uint8 kernel). PIL
  sees the cached pixels as an RGB image (rgb_view: RGBX bytes are PIL's own RGB layout), so it
  resizes 3 bands, not 4 (a quarter less work), and nothing is converted.
* Images not in the cache are decoded with PIL's JPEG draft mode at 1/2, 1/4 or 1/8 scale when the
  drawn crop still has at least image_size pixels each way at that scale (box mapped the same way).
* Batches, not samples (BatchLoader): each loader worker is handed a part of a batch and writes
  every sample's uint8 pixels (4x fewer bytes than floats) straight into one slot of a ring of
  batch buffers in shared memory, allocated once; only the slot and the classes go back through
  the DataLoader, no per-sample tensor, no collate, no new shared-memory block per batch. The
  main process copies each batch out of its slot (pinned on a GPU); normalize() turns it into
  normalised floats on the device (on a CPU: numpy, bit-identical, two images at a time in cache).
  The tasks run on from one epoch into the next, so no epoch starts with idle workers.

Files of one cache, in <cache_dir>/s<short side>/, named by a key over the version, the short side
and every sample's path, size and mtime (a changed, added or removed image gives a new key, so a
stale cache is never read):
    <key>.idx.npy  the layout, one row per sample (offset, cached w, h, original w, h; w = 0: not
                   cacheable); written atomically, identical whoever plans it
    <key>.u8       the pixels, allocated up to the last image within the cap
    <key>.done     one byte per sample, set to 1 after that image's pixels are written

Several processes: each builds only its shard (every world-th image from its rank) into the same
files; an image is read only once its done byte is set, so nobody sees half an image.
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import itertools
import math
import mmap
import os
import shutil
import tempfile
import threading

import numpy as np
import torch
from PIL import Image
from torch.utils.data import BatchSampler, DataLoader, Dataset, Sampler

import model_def
import train_data

CACHE_VERSION = 2
LAYOUT = np.dtype([("offset", "<i8"), ("cw", "<i4"), ("ch", "<i4"), ("ow", "<i4"), ("oh", "<i4")])
#: Free disk the cache leaves to everything else (checkpoints, the model, logs).
DISK_RESERVE_BYTES = 1 << 30
#: PIL keeps RGB as 4 bytes a pixel; a buffer in that layout is mapped, not copied (Image.frombuffer).
PIXEL_MODE, PIXEL_BYTES = "RGBX", 4


def default_cache_dir(env) -> str:
    """The job's local scratch: SageMaker's input volume (not uploaded, unlike output/), else tmp."""
    if env.get("SM_INPUT_DIR"):
        return os.path.join(env["SM_INPUT_DIR"], "mlops-cache")
    return os.path.join(tempfile.gettempdir(), "mlops-train-cache")


def cache_short_side(image_size: int, cache_scale: float) -> int:
    return int(math.ceil(image_size * cache_scale))


def cached_size(width: int, height: int, short_side: int):
    """(w, h) an image of (width, height) is cached at: short side down to short_side, never up."""
    short = min(width, height)
    if short <= short_side:
        return width, height
    factor = short / short_side
    return max(short_side, round(width / factor)), max(short_side, round(height / factor))


def cache_base(cache_dir: str, samples, short_side: int) -> str:
    """<cache_dir>/s<short>/<key>: the key covers every sample's path, size and mtime, so a changed,
    added or removed image (or another --image-size) never reads a stale cache."""
    digest = hashlib.sha1("mlops-pixel-cache|{}|{}".format(CACHE_VERSION, short_side).encode())
    for path, _ in samples:
        try:
            st = os.stat(path)
            ident = "{}|{}".format(st.st_size, st.st_mtime_ns)
        except OSError:
            ident = "missing"
        digest.update("\n{}|{}".format(os.path.abspath(path), ident).encode())
    return os.path.join(cache_dir, "s{}".format(short_side), digest.hexdigest())


def plan_layout(samples, short_side: int) -> np.ndarray:
    """Offset and size of every image in the pixel file, from the file headers alone (no decode)."""
    layout = np.zeros(len(samples), LAYOUT)
    offset = 0
    for i, (path, _) in enumerate(samples):
        layout[i]["offset"] = offset
        try:
            with Image.open(path) as img:
                width, height = img.size
        except (OSError, ValueError, Image.DecompressionBombError):  # reported by the loader later
            continue
        cw, ch = cached_size(width, height, short_side)
        layout[i] = (offset, cw, ch, width, height)
        offset += cw * ch * PIXEL_BYTES
    return layout


def load_layout(base: str, n: int):
    """The published layout of ``base``, or None."""
    try:
        layout = np.load(base + ".idx.npy")
    except (OSError, ValueError):
        return None
    return layout if layout.dtype == LAYOUT and layout.shape == (n,) else None


def _layout(base: str, samples, short_side: int) -> np.ndarray:
    layout = load_layout(base, len(samples))
    if layout is None:
        layout = plan_layout(samples, short_side)
        os.makedirs(os.path.dirname(base), exist_ok=True)
        tmp = "{}.idx.tmp-{}-{}".format(base, os.getpid(), threading.get_ident())
        with open(tmp, "wb") as fh:
            np.save(fh, layout)
        os.replace(tmp, base + ".idx.npy")  # atomic; every planner writes the same bytes
    return layout


def _entry_bytes(layout) -> np.ndarray:
    return layout["cw"].astype(np.int64) * layout["ch"].astype(np.int64) * PIXEL_BYTES


def decode_reduced(path: str, original, cached) -> bytes:
    """RGBX pixels of ``path`` at the ``cached`` size: JPEG draft decode at 1/2..1/8 scale when that
    still gives at least ``cached``, then an antialiased bilinear resize."""
    with Image.open(path) as img:
        if img.size != tuple(original):
            raise ValueError("{} changed while the cache was built".format(path))
        if tuple(cached) != tuple(original) and img.format == "JPEG":
            img.draft("RGB", tuple(cached))
        img = img.convert("RGB") if img.mode != "RGB" else img  # (convert would copy an RGB image)
        if img.size != tuple(cached):
            img = img.resize(tuple(cached), Image.BILINEAR)
        return img.tobytes("raw", PIXEL_MODE)


def build_cache(samples, cache_dir: str, short_side: int, shard=(0, 1), max_bytes: float = float("inf"),
                workers: int = 1, announce=None) -> dict:
    """Decode this shard's images (rank r of w builds samples r, r+w, ...) into the pixel cache,
    in parallel threads (PIL releases the GIL while decoding and resizing). Images already there
    are reused. The pixel file holds the images, in sample order, up to the last that fits both
    ``max_bytes`` and the free disk (less DISK_RESERVE_BYTES); ``announce(plan)`` is called with
    those figures before anything is decoded. Returns counts for this shard, and ``bytes``: the
    size of the pixel file."""
    base = cache_base(cache_dir, samples, short_side)
    layout = _layout(base, samples, short_side)
    sizes = _entry_bytes(layout)
    ends = layout["offset"] + sizes
    data_path, done_path = base + ".u8", base + ".done"
    existing = os.path.getsize(data_path) if os.path.exists(data_path) else 0
    free = shutil.disk_usage(os.path.dirname(base)).free
    fits = ends <= min(max_bytes, existing + max(0, free - DISK_RESERVE_BYTES))
    end = int(ends[fits & (sizes > 0)].max(initial=0))
    if announce is not None:
        announce({"images": len(samples), "cacheable": int((sizes > 0).sum()), "total_bytes": int(sizes.sum()),
                  "cached": int((fits & (sizes > 0)).sum()), "bytes": end, "free_bytes": free,
                  "max_bytes": max_bytes, "path": data_path})
    fd = os.open(data_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if end > existing:
            try:
                os.posix_fallocate(fd, 0, end)  # reserve the space now: no ENOSPC mid-build
            except OSError:
                end = os.fstat(fd).st_size
        return _build_shard(samples, layout, sizes, ends, end, fd, done_path, shard, workers)
    finally:
        os.close(fd)


def _build_shard(samples, layout, sizes, ends, end, fd, done_path, shard, workers) -> dict:
    rank, world = shard
    usable = (sizes > 0) & (ends <= end)
    done = _done_flags(done_path, len(samples))
    mine = np.zeros(len(samples), bool)
    mine[rank::world] = True
    stats = {"built": 0, "reused": int((mine & usable & (done == 1)).sum()),
             "skipped": int((mine & (sizes > 0) & ~usable).sum()), "failed": int((mine & (sizes == 0)).sum()),
             "bytes": end}
    todo = np.flatnonzero(mine & usable & (done != 1)).tolist()
    rows = layout.tolist()
    lock = threading.Lock()

    def one(i):
        offset, cw, ch, ow, oh = rows[i]
        try:
            pixels = decode_reduced(samples[i][0], (ow, oh), (cw, ch))
        except (OSError, ValueError, Image.DecompressionBombError):  # the loader reports it properly later
            with lock:
                stats["failed"] += 1
            return
        # pwrite, not stores into a mapping: the kernel copies into the page cache, where every
        # store to a fresh page of a mapped file would take a page fault (~4x the CPU at 600 KB)
        view = memoryview(pixels)
        while view:
            written = os.pwrite(fd, view, offset)
            view, offset = view[written:], offset + written
        done[i] = 1  # after the pixels: a reader never sees half an image
        with lock:
            stats["built"] += 1

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(one, todo))
    del done
    return stats


def _done_flags(path: str, n: int):
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if os.fstat(fd).st_size < n:
            os.ftruncate(fd, n)
    finally:
        os.close(fd)
    return np.memmap(path, np.uint8, "r+", shape=(n,)) if n else np.zeros(0, np.uint8)


def _torch_uint8_resize() -> bool:
    """Whether this torch resizes uint8 images itself (antialiased bilinear; torch >= 2.0)."""
    try:
        x = torch.zeros((1, 4, 4, 4), dtype=torch.uint8).contiguous(memory_format=torch.channels_last)
        torch.nn.functional.interpolate(x, size=(2, 2), mode="bilinear", align_corners=False, antialias=True)
        return True
    except (RuntimeError, TypeError, NotImplementedError):
        return False


TORCH_UINT8_RESIZE = _torch_uint8_resize()


def resized_crop_uint8(pixels: torch.Tensor, top: int, left: int, h: int, w: int, size: int, flip) -> torch.Tensor:
    """H x W x C uint8 (C = 3 or 4) -> 3 x size x size: the crop resized with antialiased bilinear
    (what torchvision's tensor transforms use), flipped left-right when ``flip``. Torch >= 2."""
    crop = pixels[top:top + h, left:left + w].permute(2, 0, 1).unsqueeze(0)  # channels-last view, no copy
    out = torch.nn.functional.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False,
                                          antialias=True)
    if flip:
        out = out.flip(-1)
    return out[0, :3]


def rgb_view(pixels, size):
    """An RGB image over RGBX ``pixels``, without a copy. PIL keeps RGB as 4 bytes a pixel, so RGBX
    bytes are its own RGB layout, and an RGB image resizes 3 bands where an RGBX one resizes 4 (a
    quarter less work). Image.frombuffer maps only some modes (RGBX, not RGB) and copies the rest,
    so this maps the buffer as frombuffer does, naming RGB; where a PIL refuses, the RGBX view."""
    try:
        img = Image.new("RGB", (1, 1))._new(Image.core.map_buffer(pixels, size, "raw", 0, ("RGB", 0, 1)))
    except (AttributeError, TypeError, ValueError):
        return Image.frombuffer(PIXEL_MODE, size, pixels, "raw", PIXEL_MODE, 0, 1)
    img.readonly = 1  # as frombuffer's: PIL copies before changing it in place
    return img


class PixelCache:
    """The complete images of one pixel cache: ``get(i)`` is (RGB image viewing the mapping,
    original (width, height)) or None. Picklable: each process maps the file on first use."""

    def __init__(self, data_path: str, rows: dict):
        self.data_path, self.rows, self._buf = data_path, rows, None

    def __len__(self):
        return len(self.rows)

    def __contains__(self, i):
        return i in self.rows

    def __getstate__(self):
        return {"data_path": self.data_path, "rows": self.rows, "_buf": None}

    def _view(self, row):
        if self._buf is None:  # copy-on-write: writable views (torch wants them), never written
            with open(self.data_path, "rb") as fh:
                self._buf = memoryview(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY))
        offset, cw, ch = row[:3]
        return self._buf[offset:offset + cw * ch * PIXEL_BYTES]

    def get(self, i):
        """(RGB PIL image viewing the mapping, original (width, height)), or None."""
        row = self.rows.get(i)
        if row is None:
            return None
        return rgb_view(self._view(row), tuple(row[1:3])), row[3:5]

    def tensor(self, i):
        """(cached H x W x 4 uint8 tensor viewing the mapping, original (width, height)), or None."""
        row = self.rows.get(i)
        if row is None:
            return None
        return torch.frombuffer(self._view(row), dtype=torch.uint8).view(row[2], row[1], PIXEL_BYTES), row[3:5]


def cache_index(samples, cache_dir: str, short_side: int):
    """The complete images of ``samples``' cache, whoever built them; None when there is none."""
    base = cache_base(cache_dir, samples, short_side)
    layout = load_layout(base, len(samples))
    if layout is None or not os.path.exists(base + ".u8") or not os.path.exists(base + ".done"):
        return None
    end = os.path.getsize(base + ".u8")
    done = np.fromfile(base + ".done", np.uint8)[:len(samples)]
    sizes = _entry_bytes(layout)
    ok = np.zeros(len(samples), bool)
    ok[:len(done)] = done == 1
    ok &= (sizes > 0) & (layout["offset"] + sizes <= end)
    rows = layout.tolist()
    return PixelCache(base + ".u8", {i: rows[i] for i in np.flatnonzero(ok).tolist()})


def crop_params(width: int, height: int, scale, log_ratio):
    """RandomResizedCrop.get_params(img of width x height, scale, ratio) with log_ratio =
    torch.log(torch.tensor(ratio)) as floats: the same torch RNG calls in the same order and the
    same float32 arithmetic, so the same (top, left, h, w) for the same RNG state, without its
    per-call tensor set-up."""
    area = height * width
    for _ in range(10):
        target_area = area * torch.empty(1).uniform_(scale[0], scale[1]).item()
        aspect_ratio = torch.empty(1).uniform_(log_ratio[0], log_ratio[1]).exp_().item()
        w = int(round(math.sqrt(target_area * aspect_ratio)))
        h = int(round(math.sqrt(target_area / aspect_ratio)))
        if 0 < w <= width and 0 < h <= height:
            i = torch.randint(0, height - h + 1, size=(1,)).item()
            j = torch.randint(0, width - w + 1, size=(1,)).item()
            return i, j, h, w
    ratio = [math.exp(r) for r in log_ratio]
    in_ratio = float(width) / float(height)
    if in_ratio < min(ratio):
        w = width
        h = int(round(w / min(ratio)))
    elif in_ratio > max(ratio):
        h = height
        w = int(round(h * max(ratio)))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


class FastTrainDataset(train_data.SkipUnreadable, Dataset):
    """(uint8 tensor 3 x size x size, class) per sample; whole batches through batch_loader (see the
    module docstring)."""

    def __init__(self, samples, image_size: int, cache: PixelCache = None, scale=model_def.TRAIN_SCALE,
                 ratio=model_def.TRAIN_RATIO, torch_resize: bool = None):
        self.samples, self.size, self.cache = samples, image_size, cache or None
        self.scale, self.ratio = scale, ratio
        # None: torch's uint8 resize where this torch has it; False: PIL's (bit-identical to torchvision's
        # PIL transforms); True: torch's, an error on torch 1.x.
        self.torch_resize = TORCH_UINT8_RESIZE if torch_resize is None else torch_resize
        self.log_ratio = [float(r) for r in torch.log(torch.tensor(ratio))]

    def __len__(self):
        return len(self.samples)

    def _load(self, i):
        pixels = torch.empty((3, self.size, self.size), dtype=torch.uint8)
        return pixels, self._write(i, pixels.numpy())

    def write_batch(self, indices, out) -> list:
        """Sample ``indices[k]`` into ``out[k]`` (uint8, N x 3 x size x size, numpy) for every k, an
        unreadable image replaced as __getitem__ does; returns the classes. The same RNG calls in the
        same order as __getitem__ on each index in turn."""
        targets = []
        for k, i in enumerate(indices):
            dst = out[k]
            targets.append(self._first_readable(i, lambda j: self._write(j, dst)))
        return targets

    def batch_loader(self, sampler, batch_size: int, workers: int, drop_last: bool, generator, pin_memory: bool,
                     last_epoch: int = None):
        """train_data.make_train_loader's loader for this dataset: a BatchLoader."""
        return BatchLoader(self, sampler, batch_size, workers, drop_last, generator, pin_memory, last_epoch)

    def _write(self, i, out) -> int:
        """Sample i's crop, resized and flipped, into ``out`` (uint8 3 x size x size numpy); its class."""
        path, target = self.samples[i]
        row = self.cache.rows.get(i) if self.cache is not None else None
        if row is not None:
            if self.torch_resize and row[1:3] == row[3:5]:  # cached at its own size: an exact pixel box
                pixels, (width, height) = self.cache.tensor(i)
                top, left, h, w = crop_params(width, height, self.scale, self.log_ratio)
                torch.from_numpy(out).copy_(
                    resized_crop_uint8(pixels, top, left, h, w, self.size, torch.rand(1) < 0.5))
                return target
            img, (width, height) = self.cache.get(i)
            self._augment(img, width, height, out)
            return target
        with Image.open(path) as img:
            self._augment(img, *img.size, out)
        return target

    def _augment(self, img, width, height, out):
        # Same RNG calls, same order as RandomResizedCrop then RandomHorizontalFlip.
        top, left, h, w = crop_params(width, height, self.scale, self.log_ratio)
        flip = torch.rand(1) < 0.5
        drafted = False
        if img.size == (width, height) and img.format == "JPEG":
            shrink = min(w, h) / self.size  # draft only as far as the crop keeps >= size pixels
            if shrink >= 2:
                img.draft("RGB", (int(math.ceil(width / shrink)), int(math.ceil(height / shrink))))
                drafted = img.size != (width, height)
        size = (self.size, self.size)
        if img.size == (width, height):  # exactly what torchvision does
            crop = img.crop((left, top, left + w, top + h))
            # another mode (a grayscale or CMYK file, the RGBX fallback of rgb_view) converted after the
            # crop converts only the crop's pixels; per pixel, the same result
            resized = (crop if crop.mode == "RGB" else crop.convert("RGB")).resize(size, Image.BILINEAR)
        else:  # the crop box in the reduced image's coordinates
            if drafted:  # JPEG DCT scaling is exactly 1/2, 1/4 or 1/8 (the last block may be partial)
                sx = sy = 2.0 ** round(math.log2(width / img.size[0]))
            else:
                sx, sy = width / img.size[0], height / img.size[1]
            if img.mode != "RGB":
                img = img.convert("RGB")
            resized = img.resize(size, Image.BILINEAR, box=(left / sx, top / sy, (left + w) / sx, (top + h) / sy))
        # Out of PIL as its own RGBX bytes (a copy of its rows), flipped and made planes in one numpy
        # copy: 0.054 ms a 224 px image, where transpose() then split() took 0.064 unflipped, 0.098 flipped.
        pixels = np.frombuffer(resized.tobytes("raw", "RGBX"), np.uint8).reshape(self.size, self.size, 4)
        out[...] = pixels[:, ::-1 if flip else 1, :3].transpose(2, 0, 1)


class BatchChunks(Sampler):
    """The tasks of a BatchLoader, epoch after epoch from epoch ``start`` (``epochs`` of them; None:
    without end; never past ``last_epoch`` but for ``start`` itself): before each epoch, ``sampler.set_epoch(epoch)``, then that epoch's batches (as
    BatchSampler groups them), each cut into up to ``chunks`` parts, as (slot, offset, batch length,
    indices): the part goes to ring[slot, offset:offset + len(indices)], slot = the batch's number
    in the whole stream % ``slots``."""

    def __init__(self, sampler, batch_size: int, drop_last: bool, chunks: int, slots: int, start: int = 0,
                 epochs: int = None, last_epoch: int = None):
        self.batches, self.chunks, self.slots = BatchSampler(sampler, batch_size, drop_last), chunks, slots
        self.start, self.epochs, self.last_epoch = start, epochs, last_epoch

    def __iter__(self):
        return self._tasks(self.start)  # ``start`` as it is when the pass begins

    def _tasks(self, start):
        sampler, number = self.batches.sampler, 0
        epochs = itertools.count(start) if self.epochs is None else range(start, start + self.epochs)
        if self.last_epoch is not None:
            epochs = itertools.takewhile(lambda epoch: epoch == start or epoch <= self.last_epoch, epochs)
        for epoch in epochs:
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(epoch)
            for batch in self.batches:
                step = -(-len(batch) // self.chunks)
                for offset in range(0, len(batch), step):
                    yield number % self.slots, offset, len(batch), batch[offset:offset + step]
                number += 1

    def batch_lengths(self) -> list:
        """The length of every batch of one epoch."""
        n, size = len(self.batches.sampler), self.batches.batch_size
        return [size] * (n // size) + ([n % size] if n % size and not self.batches.drop_last else [])

    def batch_parts(self) -> list:
        """How many parts each batch of one epoch is cut into (a short last batch: maybe fewer)."""
        return [-(-length // -(-length // self.chunks)) for length in self.batch_lengths()]


class EpochChoice:
    """A BatchLoader's ``sampler`` as train.py sees it: ``set_epoch(epoch)`` says which epoch the
    next pass over the loader is (the shuffle itself is set by BatchChunks, when its tasks for that
    epoch are drawn)."""

    def __init__(self):
        self.epoch = 0

    def set_epoch(self, epoch: int):
        self.epoch = epoch


class _ChunkWriter(Dataset):
    """What a loader worker runs: a task of BatchChunks -> its samples' pixels into the shared ring;
    only (slot, offset, batch length, classes) travel back through the DataLoader."""

    def __init__(self, dataset: FastTrainDataset, ring: torch.Tensor):
        self.dataset, self.ring = dataset, ring

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, task):
        slot, offset, length, indices = task
        out = self.ring[slot, offset:offset + len(indices)].numpy()
        return slot, offset, length, self.dataset.write_batch(indices, out)


def shared_uint8(shape) -> torch.Tensor:
    """An uninitialised uint8 tensor in shared memory, allocated there: share_memory_() on a new
    tensor allocates it twice and copies it (30 ms for a ring of 29 MB, a tenth of an epoch of 200
    images at 300 px). UntypedStorage._new_shared is how torch itself does it (private; where a
    torch lacks it, share_memory_())."""
    count = math.prod(shape)
    try:
        storage = torch.UntypedStorage._new_shared(count)
    except (AttributeError, TypeError, RuntimeError):
        return torch.empty(shape, dtype=torch.uint8).share_memory_()
    return torch.empty(0, dtype=torch.uint8).set_(storage).view(shape)


def ring_slots(in_flight: int, batch_parts: list) -> int:
    """Batch buffers a BatchLoader needs when at most ``in_flight`` tasks are handed out beyond the
    last one taken back, its batches cut into ``batch_parts`` tasks each (one epoch's, over and over):
    the most batches any in_flight + 1 tasks in a row touch (1 when nothing runs ahead: no workers).
    With p parts to every batch that is ceil(in_flight / p) + 1; a short last batch cut into fewer
    parts can make it one more."""
    per_epoch = sum(batch_parts)
    if in_flight == 0 or per_epoch == 0:
        return 1
    epochs = -(-(in_flight + 1) // per_epoch) + 1  # every window that starts in the first epoch
    owner = [b for b, parts in enumerate(list(batch_parts) * epochs) for _ in range(parts)]
    return max(owner[t + in_flight] - owner[t] + 1 for t in range(per_epoch))


class BatchLoader:
    """Shuffled uint8 batches (N x 3 x size x size, classes) of a FastTrainDataset, like a DataLoader
    (``sampler.set_epoch``, len = batches an epoch) at less cost a sample.

    Batches, not samples. The DataLoader's way costs ~0.2 ms of CPU a 224 px image here, half what
    cropping and resizing it costs: a worker makes each sample a tensor, stacks a batch into a new
    shared-memory block, and the main process maps it. Here every batch is cut into one part per
    worker (each batch is ready in 1/workers of the time, and the small last batch of an epoch no
    longer leaves all but one worker idle); a worker writes each sample of its part straight into
    one slot of a ring of batch buffers in shared memory, allocated once; only the slot and the
    classes travel back, and the main process copies the batch out of its slot (into pinned memory
    on a GPU) before it asks for the next part.

    One stream of tasks, not one per epoch. A DataLoader's pass ends with its workers idle while the
    last batch is taken, and the next pass starts with a round trip to every worker and an empty
    pipeline: ~30 ms of two cores an epoch here, a third of an epoch of 200 images. The tasks run on
    from one epoch into the next (BatchChunks, set_epoch of the next epoch drawn as its tasks are),
    so the workers are already on the next epoch's first batches when this one's last is taken. A
    pass that is not the one the stream is at (an epoch other than the next, a pass left early)
    starts the stream again from set_epoch's epoch; what was in flight is dropped. ``last_epoch``
    (train.py's --epochs): nothing runs ahead past it.

    Why a slot is never overwritten while it is read: the DataLoader hands out task t + P (P =
    prefetch_factor x workers, its documented bound on tasks in flight) only once task t has come
    back, in order, when every batch that ended before t has been copied out. The ring has as many
    slots as tasks t..t + P can span batches (ring_slots), numbered through the whole stream."""

    PREFETCH = 2
    #: Fewer images than this in a part and the per-task round trip starts to show.
    MIN_PART = 16

    def __init__(self, dataset: FastTrainDataset, sampler, batch_size: int, workers: int, drop_last: bool,
                 generator=None, pin_memory: bool = False, last_epoch: int = None):
        self.dataset, self.batch_size, self.pin_memory = dataset, batch_size, pin_memory
        self.sampler = EpochChoice()
        parts = max(1, min(workers, batch_size // self.MIN_PART))
        self.tasks = BatchChunks(sampler, batch_size, drop_last, parts, 1, last_epoch=last_epoch)
        self.tasks.slots = slots = ring_slots(self.PREFETCH * workers, self.tasks.batch_parts())
        shape = (slots, batch_size, 3, dataset.size, dataset.size)
        self.ring = shared_uint8(shape) if workers else torch.empty(shape, dtype=torch.uint8)
        self.loader = DataLoader(_ChunkWriter(dataset, self.ring), batch_size=None, sampler=self.tasks,
                                 num_workers=workers, persistent_workers=workers > 0, generator=generator,
                                 **({"prefetch_factor": self.PREFETCH} if workers else {}))
        self._stream, self._next = None, None  # the task stream, and the (epoch, batch) it yields next
        self.streams_started = 0

    def __len__(self):
        return len(self.tasks.batches)

    def __iter__(self):
        epoch, batches = self.sampler.epoch, len(self)
        if self._next != (epoch, 0):
            self.tasks.start = epoch
            self._stream = iter(self.loader)  # persistent workers: the same workers, a new pass
            self.streams_started += 1
        self._next = None  # until a batch is taken: a pass left before its first batch starts again
        size, classes, number = self.dataset.size, [], 0
        for slot, offset, length, targets in self._stream:
            classes += targets
            if offset + len(targets) < length:
                continue
            batch = torch.empty((length, 3, size, size), dtype=torch.uint8, pin_memory=self.pin_memory)
            batch.copy_(self.ring[slot, :length])  # before the next task is asked for: see above
            targets, classes, number = torch.tensor(classes, dtype=torch.int64), [], number + 1
            if number < batches:
                self._next = (epoch, number)
            else:  # the stream runs on into the next epoch, unless that is past the last
                last = self.tasks.last_epoch
                self._next = (epoch + 1, 0) if last is None or epoch < last else None
            yield batch, targets.pin_memory() if self.pin_memory else targets
            if number == batches:
                return


def normalize(batch: torch.Tensor, device, mean=model_def.IMAGENET_MEAN, std=model_def.IMAGENET_STD,
              memory_format=torch.contiguous_format) -> torch.Tensor:
    """uint8 N x 3 x H x W (any device) -> float, /255, ImageNet-normalised, on ``device``:
    the ToTensor + Normalize of the old transform, done where the compute is."""
    x = batch.to(device, non_blocking=True).contiguous(memory_format=memory_format)
    if x.device.type == "cpu":
        # The same float32 operations in the same order as ToTensor then Normalize (bit-identical),
        # in numpy: torch 1.x converts uint8 to float ~4x slower than numpy does on a CPU. The cast
        # rides in the first division, and two images at a time (2.4 MB of floats) stay in the L2
        # cache through all three passes: 35% less than whole-batch passes through memory.
        x = x.numpy()
        y = np.empty_like(x, np.float32)  # the same layout (strides) as x: NCHW or channels-last
        m = np.asarray(mean, np.float32).reshape(1, 3, 1, 1)
        s = np.asarray(std, np.float32).reshape(1, 3, 1, 1)
        for i in range(0, len(x), 2):
            part = y[i:i + 2]
            np.divide(x[i:i + 2], np.float32(255.0), out=part)
            np.subtract(part, m, out=part)
            np.divide(part, s, out=part)
        return torch.from_numpy(y)
    x = x.float()
    m = torch.tensor(mean, device=x.device).view(1, 3, 1, 1)
    s = torch.tensor(std, device=x.device).view(1, 3, 1, 1)
    # The same float32 operations in the same order as ToTensor then Normalize: bit-identical.
    return x.div_(255.0).sub_(m).div_(s)
