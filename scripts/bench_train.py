"""Training throughput (images/s) with and without train.py's speed features.

Runs train.py's own step (to_device + train_step) on synthetic images held in memory, for a
baseline and then with the features switched on one after another:

    baseline      fp32, NCHW, cudnn.benchmark off, loader in the main process, pageable memory
    +loader       loader workers sized from the CPU count, pinned memory, persistent workers
    +amp          mixed precision (bf16 where supported, else fp16 with a grad scaler)
    +channels_last
    +cudnn_bench  cudnn.benchmark and TF32 matmuls: everything train.py uses on a GPU
    +compile      torch.compile on top (only with --compile, torch 2.x)

``--data jpeg`` (default) decodes in-memory JPEGs with the real augmentation, so the loader
matters as it does in training; ``--data tensor`` feeds ready tensors to measure the GPU alone.
Each configuration prints one line; the last line is the speed-up of the full set.

``--loader-only`` times train.py's own training input pipeline instead (train.prepare_cache +
train_pipeline.FastTrainDataset + train_data.make_train_loader, cache build included) against the
seed-style torchvision ImageFolder + RandomResizedCrop/flip/ToTensor/Normalize on the same files,
``--epochs`` passes each, and ends with ``loader images_per_sec=<x>``. ``--make-data N`` first
writes N photo-like 1000x750 JPEGs (~300 KB) into ``--data-dir`` (no dataset needed):

    python3 scripts/bench_train.py --loader-only --make-data 200 --data-dir /tmp/photos \
        --workers 2 --image-size 224 --epochs 10 --device cpu

    python3 scripts/bench_train.py                      # resnet50, 224 px, batch 64
    python3 scripts/bench_train.py --device cpu --arch resnet18 --image-size 32 --batch-size 4 \
        --steps 3 --warmup 1 --num-images 16            # a smoke test anywhere
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import sys
import tempfile
import time

import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset, RandomSampler

import model_def
import train
import train_data
import train_dist
import train_pipeline

NUM_CLASSES = 133  # the dog-breed dataset


class SyntheticImages(Dataset):
    """In-memory images with random labels: JPEG bytes decoded per item, or ready tensors."""

    def __init__(self, n: int, image_size: int, source_size: int, kind: str, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.kind = kind
        self.labels = torch.randint(0, NUM_CLASSES, (n,), generator=g).tolist()
        self.transform = model_def.train_transform(image_size)
        self.items = []
        for _ in range(n):
            if kind == "tensor":
                self.items.append(torch.randn(3, image_size, image_size, generator=g))
            else:
                # Smooth colour fields plus a little noise: JPEGs of a realistic size to decode.
                low = torch.randint(0, 256, (8, 8, 3), generator=g, dtype=torch.uint8).numpy()
                img = Image.fromarray(low).resize((source_size, source_size * 3 // 4), Image.BICUBIC)
                buf = io.BytesIO()
                img.save(buf, "JPEG", quality=90)
                self.items.append(buf.getvalue())

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        if self.kind == "tensor":
            return self.items[i], self.labels[i]
        with Image.open(io.BytesIO(self.items[i])) as img:
            return self.transform(img.convert("RGB")), self.labels[i]


def feature_ladder(device: torch.device, with_compile: bool) -> list:
    """(name, SpeedConfig, use_loader_features, compile) per configuration, cumulative."""
    full = train.speed_config(device)  # what train.py itself would use here
    ladder = [
        ("baseline", train.SpeedConfig(), False, False),
        ("+loader", train.SpeedConfig(), True, False),
        ("+amp", train.SpeedConfig(amp_dtype=full.amp_dtype), True, False),
        ("+channels_last", train.SpeedConfig(amp_dtype=full.amp_dtype, channels_last=full.channels_last), True, False),
        ("+cudnn_bench", full, True, False),
    ]
    if with_compile:
        ladder.append(("+compile", full, True, True))
    return ladder


def measure(args, dataset, device, speed, loader_features: bool, compile_model: bool) -> dict:
    """Images/s over ``args.steps`` timed steps after ``args.warmup`` untimed ones."""
    train.apply_backend_flags(speed)
    torch.manual_seed(0)
    model = model_def.build_model(args.arch, NUM_CLASSES, "none").to(device)
    if speed.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if compile_model:
        model = torch.compile(model)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scaler = train.make_grad_scaler(speed)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    on_gpu = device.type == "cuda"
    workers = train_data.auto_num_workers(args.workers, 1, on_gpu) if loader_features else 0
    total = args.batch_size * (args.warmup + args.steps)
    loader = DataLoader(
        dataset, batch_size=args.batch_size, num_workers=workers, drop_last=True,
        sampler=RandomSampler(dataset, replacement=True, num_samples=total),
        pin_memory=loader_features and on_gpu, persistent_workers=False)
    start, images = None, 0
    for step, (inputs, targets) in enumerate(loader):
        if step == args.warmup:
            if on_gpu:
                torch.cuda.synchronize(device)
            start = time.perf_counter()
        inputs, targets = train.to_device(inputs, targets, speed, device)
        train.train_step(model, inputs, targets, criterion, optimizer, scaler, speed, device)
        if step >= args.warmup:
            images += targets.size(0)
    if on_gpu:
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    return {"images_per_sec": images / seconds, "step_ms": 1000 * seconds / max(args.steps, 1),
            "amp": str(speed.amp_dtype).replace("torch.", "") if speed.amp_dtype else "off",
            "channels_last": speed.channels_last, "cudnn_benchmark": speed.cudnn_benchmark,
            "workers": workers, "pin_memory": loader_features and on_gpu, "compile": compile_model}


def parse_args(argv):
    p = argparse.ArgumentParser(description="Training throughput with and without the speed features.")
    p.add_argument("--arch", choices=model_def.ARCHS, default="resnet50")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=30, help="timed steps per configuration")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first (cudnn autotuning, workers)")
    p.add_argument("--data", choices=("jpeg", "tensor"), default="jpeg")
    p.add_argument("--num-images", type=int, default=512, help="distinct images held in memory")
    p.add_argument("--source-size", type=int, default=400, help="width of the synthetic JPEGs")
    p.add_argument("--workers", type=int, default=-1, help="loader workers for +loader; -1: from CPU count")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--compile", action="store_true", help="also measure torch.compile (torch 2.x)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--loader-only", action="store_true",
                   help="time train.py's training input pipeline against the seed-style loader, no model")
    p.add_argument("--data-dir", help="ImageFolder (one sub-folder per class) for --loader-only")
    p.add_argument("--epochs", type=int, default=10, help="--loader-only: passes over --data-dir per loader")
    p.add_argument("--make-data", type=int, default=0, metavar="N",
                   help="--loader-only: first write N photo-like JPEGs into --data-dir (a temp dir if unset)")
    p.add_argument("--photo-size", default="1000x750", help="--make-data: WIDTHxHEIGHT of the JPEGs")
    p.add_argument("--cache-dir", help="--loader-only: cache folder; default a fresh temp dir, so the build is timed")
    return p.parse_args(argv)


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


# --------------------------------------------------------------------------- --loader-only


def make_photos(root: str, n: int, size=(1000, 750), classes: int = 4, seed: int = 0) -> str:
    """N JPEGs that cost what photos cost to decode: a smooth colour field with texture on top,
    so they do not compress to nothing (~300 KB at 1000x750, quality 90)."""
    g = torch.Generator().manual_seed(seed)
    w, h = size
    for i in range(n):
        folder = os.path.join(root, "{:03d}.class_{}".format(i % classes + 1, i % classes))
        os.makedirs(folder, exist_ok=True)
        low = torch.randint(0, 256, (6, 8, 3), generator=g, dtype=torch.uint8).numpy()
        smooth = torch.from_numpy(__import__("numpy").array(Image.fromarray(low).resize((w, h), Image.BICUBIC)))
        noise = torch.randint(-20, 21, (h, w, 3), generator=g, dtype=torch.int16)
        pixels = (smooth.to(torch.int16) + noise).clamp(0, 255).to(torch.uint8).numpy()
        Image.fromarray(pixels).save(os.path.join(folder, "img_{:05d}.jpg".format(i)), "JPEG", quality=90)
    return root


def _time_epochs(loader, epochs, device, speed, set_epoch=None) -> tuple:
    """(images, seconds) for ``epochs`` passes, each batch taken to the device as train.py does."""
    images, start = 0, time.perf_counter()
    for epoch in range(epochs):
        if set_epoch is not None:
            set_epoch(epoch)
        for inputs, targets in loader:
            inputs, targets = train.to_device(inputs, targets, speed, device)
            images += targets.size(0)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return images, time.perf_counter() - start


def bench_seed_loader(args, device, workers) -> dict:
    """The seed project's loader: ImageFolder, full decode, RandomResizedCrop(size), flip, ToTensor, Normalize."""
    from torchvision import datasets, transforms
    transform = transforms.Compose([
        transforms.RandomResizedCrop(args.image_size), transforms.RandomHorizontalFlip(), transforms.ToTensor(),
        transforms.Normalize(model_def.IMAGENET_MEAN, model_def.IMAGENET_STD)])
    dataset = datasets.ImageFolder(args.data_dir, transform)
    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True, num_workers=workers,
                        pin_memory=device.type == "cuda", persistent_workers=workers > 0)
    images, seconds = _time_epochs(loader, args.epochs, device, train.SpeedConfig())
    return {"images": images, "seconds": seconds, "images_per_sec": images / seconds}


def bench_train_pipeline(args, device, workers) -> dict:
    """train.py's own training input: cache build (timed), FastTrainDataset, its loader."""
    cache_dir = args.cache_dir or tempfile.mkdtemp(prefix="bench-cache-")
    try:
        return _bench_train_pipeline(args, device, workers, cache_dir)
    finally:
        if not args.cache_dir:
            shutil.rmtree(cache_dir, ignore_errors=True)


def _bench_train_pipeline(args, device, workers, cache_dir) -> dict:
    options = argparse.Namespace(cache=True, cache_dir=cache_dir, cache_scale=1.5, cache_max_gb=1e6,
                                 image_size=args.image_size)
    ctx = train_dist.DistContext(device=device)
    samples = train_data.scan_samples(args.data_dir, train_data.class_folders(args.data_dir))
    speed = train.speed_config(device)
    start = time.perf_counter()
    cache = train.prepare_cache(options, ctx, {}, samples, workers)
    build = time.perf_counter() - start
    loader = train_data.make_train_loader(train_pipeline.FastTrainDataset(samples, args.image_size, cache), ctx,
                                          (0, 1), args.batch_size, workers, 0, device.type == "cuda")
    images, seconds = _time_epochs(loader, args.epochs, device, speed, loader.sampler.set_epoch)
    total = build + seconds
    return {"images": images, "seconds": total, "cache_build_seconds": build, "cached": len(cache),
            "images_per_sec": images / total}


def loader_only(args, device) -> int:
    if args.make_data:
        args.data_dir = args.data_dir or tempfile.mkdtemp(prefix="bench-photos-")
        w, h = (int(x) for x in args.photo_size.lower().split("x"))
        start = time.perf_counter()
        make_photos(args.data_dir, args.make_data, (w, h))
        print("made {} JPEGs of {}x{} in {} ({:.0f} KB each on average, {:.1f} s)".format(
            args.make_data, w, h, args.data_dir,
            sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(args.data_dir) for f in fs)
            / 1024 / args.make_data, time.perf_counter() - start), file=sys.stderr, flush=True)
    if not args.data_dir or not os.path.isdir(args.data_dir):
        print("error: --loader-only needs --data-dir <ImageFolder> (or --make-data N)", file=sys.stderr)
        return 2
    workers = args.workers if args.workers >= 0 else (os.cpu_count() or 1)
    cores = max(1, workers)
    print("bench loader data_dir={} workers={} image_size={} epochs={} batch_size={} device={} cpus={}".format(
        args.data_dir, workers, args.image_size, args.epochs, args.batch_size, device.type, os.cpu_count()),
        flush=True)
    base = bench_seed_loader(args, device, workers)
    print("baseline images_per_sec={:.1f} per_core={:.1f} seconds={:.2f} images={}".format(
        base["images_per_sec"], base["images_per_sec"] / cores, base["seconds"], base["images"]), flush=True)
    new = bench_train_pipeline(args, device, workers)
    print("pipeline images_per_sec={:.1f} per_core={:.1f} seconds={:.2f} images={} cache_build_s={:.2f} "
          "cached={}".format(new["images_per_sec"], new["images_per_sec"] / cores, new["seconds"], new["images"],
                             new["cache_build_seconds"], new["cached"]), flush=True)
    print("ratio={:.2f}x baseline_images_per_sec={:.1f} pipeline_images_per_sec={:.1f} workers={}".format(
        new["images_per_sec"] / base["images_per_sec"], base["images_per_sec"], new["images_per_sec"], workers),
        flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"baseline": base, "pipeline": new, "workers": workers, "epochs": args.epochs}, fh, indent=2)
    print("loader images_per_sec={:.1f}".format(new["images_per_sec"]), flush=True)
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but CUDA is not available", file=sys.stderr)
        return 2
    use_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if use_cuda else "cpu")
    if args.loader_only:
        return loader_only(args, device)
    with_compile = args.compile and hasattr(torch, "compile")
    if args.compile and not with_compile:
        print("warning: torch.compile needs torch 2.x; skipping it", file=sys.stderr)
    dataset = SyntheticImages(args.num_images, args.image_size, args.source_size, args.data)
    header = {"arch": args.arch, "image_size": args.image_size, "batch_size": args.batch_size,
              "data": args.data, "device": describe(device), "cpus": os.cpu_count(),
              "torch": torch.__version__, "torchvision": __import__("torchvision").__version__}
    print("bench " + " ".join("{}={}".format(k, str(v).replace(" ", "_")) for k, v in header.items()), flush=True)
    if device.type == "cpu":
        print("note: amp, channels_last and cudnn.benchmark only apply on a GPU; on CPU those rows "
              "repeat the row before", file=sys.stderr, flush=True)
    results = []
    for name, speed, loader_features, compile_model in feature_ladder(device, with_compile):
        r = dict(config=name, **measure(args, dataset, device, speed, loader_features, compile_model))
        results.append(r)
        print("config={config} images_per_sec={images_per_sec:.1f} step_ms={step_ms:.1f} amp={amp} "
              "channels_last={channels_last} cudnn_benchmark={cudnn_benchmark} workers={workers} "
              "pin_memory={pin_memory} compile={compile}".format(**r).replace("True", "true").replace("False", "false"),
              flush=True)
    speedup = results[-1]["images_per_sec"] / results[0]["images_per_sec"]
    print("speedup={:.2f}x baseline_images_per_sec={:.1f} optimized_images_per_sec={:.1f}".format(
        speedup, results[0]["images_per_sec"], results[-1]["images_per_sec"]), flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"setup": header, "results": results, "speedup": speedup}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
