"""Image-folder data for train.py: scanning, datasets, samplers and loaders.

A small ImageFolder replacement, because torchvision's refuses a class list naming folders that a
host does not have, which happens when SageMaker shards a channel across hosts (ShardedByS3Key).
"""
from __future__ import annotations

import json
import math
import os
import sys

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler
from torch.utils.data.distributed import DistributedSampler

from model_def import IMAGE_EXTENSIONS


class DataError(ValueError):
    """The data folders are not usable as given (missing classes, too few images)."""


#: What PIL raises for a file it cannot read as an image (garbage, truncated, a decompression bomb).
UNREADABLE = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def escaped_name(name: str) -> str:
    """A file name as bash's $'...' reads it: printable ASCII as is, every other byte \\xNN."""
    return "".join(chr(b) if 0x20 <= b < 0x7F and b not in (0x5C, 0x27) else "\\x{:02x}".format(b)
                   for b in os.fsencode(name))


def _check_utf8(root: str, name: str) -> None:
    """Class names become labels in classes.json and the endpoint's JSON answers, and S3 keys: a
    folder name that is not UTF-8 (Python hands it over with surrogate escapes) cannot be one."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raw = os.fsencode(name)
        suggested = raw.decode("latin-1") if all(b < 0x80 or b >= 0xA0 for b in raw) else raw.decode("utf-8", "replace")
        raise DataError(
            "the class folder $'{esc}' in {root} has a name that is not UTF-8 (labels and S3 keys must be); "
            "rename it in every split, e.g. mv $'{root}/{esc}' '{root}/{new}'".format(
                esc=escaped_name(name), root=root, new=suggested.replace("\ufffd", "_"))) from None


def class_folders(root: str) -> list:
    """Sorted sub-folder names of ``root`` (the class order, as ImageFolder defines it)."""
    if not root or not os.path.isdir(root):
        raise FileNotFoundError("data folder not found: {}".format(root))
    names = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    for name in names:
        _check_utf8(root, name)
    return names


def readable_samples(samples: list):
    """(samples whose image header PIL can read, [(path, why) for the others]). Only the header is
    read (a few KB a file), so a file that is no image is left out before training instead of
    killing it mid-epoch; a file that is cut short past its header is caught when it is decoded
    (see ImageListDataset)."""
    good, bad = [], []
    for path, target in samples:
        try:
            with open(path, "rb") as fh, Image.open(fh) as img:  # parses the header; decodes nothing
                img.size  # noqa: B018
            good.append((path, target))
        except UNREADABLE as err:
            bad.append((path, "{}: {}".format(type(err).__name__, err)))
    return good, bad


class SkipUnreadable:
    """Mixin for a dataset of (path, target) samples: an image that fails to decode (a truncated
    JPEG that passed the header check) is named once on stderr and the next readable sample takes
    its place, so one bad file costs one image instead of the job."""

    samples: list

    def _load(self, i):
        raise NotImplementedError

    def __getitem__(self, i):
        return self._first_readable(i, self._load)

    def _first_readable(self, i, load):
        """``load(j)`` for the first j from i on (wrapping round) whose image decodes."""
        n = len(self.samples)
        for step in range(n):
            j = (i + step) % n
            try:
                return load(j)
            except UNREADABLE as err:
                self._report(self.samples[j][0], err)
        raise DataError("none of the {} images could be decoded".format(n))

    def _report(self, path, err):
        skipped = self.__dict__.setdefault("_skipped", set())
        if path not in skipped:
            skipped.add(path)
            print("warning: skipped unreadable image {} ({}: {}); the next image takes its place".format(
                path, type(err).__name__, err), file=sys.stderr, flush=True)


def scan_samples(root: str, classes: list) -> list:
    """``[(path, class_index), ...]`` for every image under ``root/<class>/``, in a stable order."""
    index = {name: i for i, name in enumerate(classes)}
    samples = []
    for name in class_folders(root):
        if name not in index:
            raise DataError(
                "class folder {!r} in {} is not among the training classes".format(name, root)
            )
        folder = os.path.join(root, name)
        for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
            dirnames.sort()
            for fname in sorted(filenames):
                if fname.lower().endswith(IMAGE_EXTENSIONS):
                    samples.append((os.path.join(dirpath, fname), index[name]))
    return samples


class ImageListDataset(SkipUnreadable, Dataset):
    """Images from a sample list, decoded with PIL and converted to RGB (a multi-page TIFF: its
    first page, as the predictor reads it)."""

    def __init__(self, samples, transform):
        self.samples = samples
        self.transform = transform

    def __len__(self):
        return len(self.samples)

    def _load(self, i):
        path, target = self.samples[i]
        with Image.open(path) as img:
            img = img.convert("RGB")
        return self.transform(img), target


class ShardSampler(Sampler):
    """Every ``world``-th index from ``rank``: evaluation without DistributedSampler's padding,
    so summed metrics count each image exactly once."""

    def __init__(self, length: int, rank: int, world: int):
        self.indices = list(range(rank, length, world))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self):
        return len(self.indices)


def sharded_channels(env) -> set:
    """Channels SageMaker split across hosts (S3DistributionType ShardedByS3Key)."""
    raw = env.get("SM_INPUT_DATA_CONFIG")
    if not raw:
        return set()
    try:
        config = json.loads(raw)
    except ValueError:
        return set()
    return {
        name for name, c in config.items()
        if isinstance(c, dict) and c.get("S3DistributionType") == "ShardedByS3Key"
    }


def data_group(ctx, sharded: bool):
    """(rank, world) to split a split's images by: a sharded channel is already split between
    hosts, so only the processes of one host share it."""
    if sharded:
        return ctx.local_rank, ctx.local_world_size
    return ctx.rank, ctx.world_size


def auto_num_workers(requested: int, local_world_size: int, on_gpu: bool) -> int:
    """Loader workers: all CPUs shared among this host's processes on GPU (JPEG decoding is the
    bottleneck there), at most 2 on CPU where workers compete with the model for cores."""
    if requested >= 0:
        return requested
    per_proc = max(1, (os.cpu_count() or 2) // max(1, local_world_size))
    return max(1, per_proc - 1) if on_gpu else min(2, per_proc)


def make_train_loader(dataset, ctx, group, batch_size, workers, seed, on_gpu, last_epoch=None):
    """Shuffled loader over this rank's 1/world of the images (re-shuffled by set_epoch); a loader
    that runs ahead into the next epoch does not run past ``last_epoch``."""
    rank, world = group
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed)
    per_rank = len(sampler)
    if per_rank < 2:
        raise DataError("too few training images: {} per process".format(per_rank))
    # BatchNorm cannot train on a batch of one image; drop only that case.
    drop_last = per_rank % batch_size == 1
    batch_loader = getattr(dataset, "batch_loader", None)
    if batch_loader is not None:  # a dataset that fills whole batches itself (train_pipeline.FastTrainDataset)
        return batch_loader(sampler, batch_size, workers, drop_last, _generator(seed), on_gpu, last_epoch)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        pin_memory=on_gpu,
        persistent_workers=workers > 0,
        drop_last=drop_last,
        generator=_generator(seed),
    )


def make_eval_loader(dataset, group, batch_size, workers, on_gpu):
    """Unshuffled loader over this rank's share, each image seen by exactly one rank."""
    rank, world = group
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=ShardSampler(len(dataset), rank, world),
        num_workers=workers,
        pin_memory=on_gpu,
        persistent_workers=workers > 0,
    )


def expected_batches(n_images: int, world: int, batch_size: int) -> int:
    """Batches one rank runs per epoch (what the tests check against)."""
    per_rank = math.ceil(n_images / world)
    full, rest = divmod(per_rank, batch_size)
    return full + (1 if rest > 1 else 0)


def _generator(seed: int):
    g = torch.Generator()
    g.manual_seed(seed)
    return g
