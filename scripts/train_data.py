"""Image-folder data for train.py: scanning, datasets, samplers and loaders.

A small ImageFolder replacement, because torchvision's refuses a class list naming folders that a
host does not have, which happens when SageMaker shards a channel across hosts (ShardedByS3Key).
"""
from __future__ import annotations

import json
import math
import os

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler
from torch.utils.data.distributed import DistributedSampler

from model_def import IMAGE_EXTENSIONS


class DataError(ValueError):
    """The data folders are not usable as given (missing classes, too few images)."""


def class_folders(root: str) -> list:
    """Sorted sub-folder names of ``root`` (the class order, as ImageFolder defines it)."""
    if not root or not os.path.isdir(root):
        raise FileNotFoundError("data folder not found: {}".format(root))
    return sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))


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


class ImageListDataset(Dataset):
    """Images from a sample list, decoded with PIL and converted to RGB."""

    def __init__(self, samples, transform):
        self.samples = samples
        self.transform = transform

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
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


def make_train_loader(dataset, ctx, group, batch_size, workers, seed, on_gpu):
    """Shuffled loader over this rank's 1/world of the images (re-shuffled by set_epoch)."""
    rank, world = group
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed)
    per_rank = len(sampler)
    if per_rank < 2:
        raise DataError("too few training images: {} per process".format(per_rank))
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        pin_memory=on_gpu,
        persistent_workers=workers > 0,
        # BatchNorm cannot train on a batch of one image; drop only that case.
        drop_last=per_rank % batch_size == 1,
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
