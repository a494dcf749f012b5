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

``--sizes 300,640,1000x750,4000x3000,mix`` (with ``--make-data N``) runs that comparison for each
photo size in turn (N JPEGs each; a bare number is the long side of a 4:3 photo; ``mix`` is long
sides of 300-1000 px in assorted aspect ratios, like the dog-breed photos), ``--pairs`` alternating
runs (seed, train.py, seed, train.py, ...) per size so that a shared machine's load falls on both,
and prints a table: per size the median images/s per core of each and the median of the per-pair
ratios. Per core is counted two ways: wall-clock images/s divided by the workers, and images per
CPU-second used by the main process and its loader workers together (steady under other load):

    python3 scripts/bench_train.py --loader-only --make-data 200 --sizes 300,640,1000x750,mix \
        --pairs 3 --workers 2 --image-size 224 --epochs 10 --device cpu

Every loader run is a process of its own (forked), so one run's heap never shapes the next. The
seed-style loader runs with glibc's default malloc, as the seed project ran; train.py's keeps freed
memory, as train.py does on a CPU (train.keep_freed_memory). ``--seed-malloc kept`` gives the seed-style
loader the same, to see what that alone is worth.

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
import random
import shutil
import statistics
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
    p.add_argument("--sizes", help="--loader-only --make-data: comma list of photo sizes to compare in turn, "
                                   "e.g. 300,640,1000x750,4000x3000,mix")
    p.add_argument("--pairs", type=int, default=3, help="--sizes: alternating (seed, train.py) runs per size")
    p.add_argument("--seed-malloc", choices=("default", "kept"), default="default",
                   help="--loader-only: the seed-style loader's malloc: glibc's default, as the seed project ran, or "
                        "kept as train.py keeps it on a CPU (train.keep_freed_memory), to see what that alone is worth")
    return p.parse_args(argv)


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


# --------------------------------------------------------------------------- --loader-only


MIX_RATIOS = ((4, 3), (3, 4), (1, 1), (3, 2), (2, 3), (16, 9), (5, 4))


def photo_sizes(spec: str, n: int, seed: int = 0) -> list:
    """(width, height) of each of ``n`` photos: ``WxH``; a bare number, the long side of a 4:3
    landscape photo; ``mix``, long sides of 300-1000 px in assorted aspect ratios (dogImages)."""
    spec = spec.strip().lower()
    if spec == "mix":
        rng = random.Random(seed)
        sizes = []
        for _ in range(n):
            long_side, (a, b) = rng.randint(300, 1000), rng.choice(MIX_RATIOS)
            sizes.append((long_side, round(long_side * b / a)) if a >= b else (round(long_side * a / b), long_side))
        return sizes
    parts = spec.split("x")
    if len(parts) > 2 or not all(p.isdigit() and 16 <= int(p) <= 20000 for p in parts):
        raise ValueError("{!r} is not a photo size: use WIDTHxHEIGHT (16-20000 px), a long side such as 640, "
                         "or mix".format(spec))
    w, h = (int(parts[0]), int(parts[0]) * 3 // 4) if len(parts) == 1 else (int(parts[0]), int(parts[1]))
    return [(w, h)] * n


def make_photos(root: str, n: int, size=(1000, 750), classes: int = 4, seed: int = 0) -> str:
    """N JPEGs that cost what photos cost to decode: a smooth colour field with texture on top,
    so they do not compress to nothing (~300 KB at 1000x750, quality 90). ``size``: one
    (width, height) for all, or a list with one per photo."""
    g = torch.Generator().manual_seed(seed)
    sizes = size if isinstance(size, list) else [tuple(size)] * n
    for i in range(n):
        w, h = sizes[i]
        folder = os.path.join(root, "{:03d}.class_{}".format(i % classes + 1, i % classes))
        os.makedirs(folder, exist_ok=True)
        low = torch.randint(0, 256, (6, 8, 3), generator=g, dtype=torch.uint8).numpy()
        smooth = torch.from_numpy(__import__("numpy").array(Image.fromarray(low).resize((w, h), Image.BICUBIC)))
        noise = torch.randint(-20, 21, (h, w, 3), generator=g, dtype=torch.int16)
        pixels = (smooth.to(torch.int16) + noise).clamp(0, 255).to(torch.uint8).numpy()
        Image.fromarray(pixels).save(os.path.join(folder, "img_{:05d}.jpg".format(i)), "JPEG", quality=90)
    return root


def _process_cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of a live process, from /proc (0 where there is no /proc)."""
    try:
        with open("/proc/{}/stat".format(pid)) as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _time_epochs(loader, epochs, device, speed, set_epoch=None) -> tuple:
    """(images, seconds, loader workers' CPU seconds) for ``epochs`` passes, each batch taken to the
    device as train.py does (persistent workers: still alive to be measured at the end)."""
    images, start = 0, time.perf_counter()
    for epoch in range(epochs):
        if set_epoch is not None:
            set_epoch(epoch)
        for inputs, targets in loader:
            inputs, targets = train.to_device(inputs, targets, speed, device)
            images += targets.size(0)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    loader = getattr(loader, "loader", loader)  # train_pipeline.BatchLoader: the DataLoader it runs
    workers = getattr(getattr(loader, "_iterator", None), "_workers", None) or []
    return images, seconds, sum(_process_cpu_seconds(w.pid) for w in workers)


def bench_seed_loader(args, device, workers) -> dict:
    """The seed project's loader: ImageFolder, full decode, RandomResizedCrop(size), flip, ToTensor, Normalize."""
    from torchvision import datasets, transforms
    transform = transforms.Compose([
        transforms.RandomResizedCrop(args.image_size), transforms.RandomHorizontalFlip(), transforms.ToTensor(),
        transforms.Normalize(model_def.IMAGENET_MEAN, model_def.IMAGENET_STD)])
    dataset = datasets.ImageFolder(args.data_dir, transform)
    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True, num_workers=workers,
                        pin_memory=device.type == "cuda", persistent_workers=workers > 0)
    cpu = time.process_time()
    images, seconds, worker_cpu = _time_epochs(loader, args.epochs, device, train.SpeedConfig())
    cpu = time.process_time() - cpu + worker_cpu
    return {"images": images, "seconds": seconds, "images_per_sec": images / seconds, "cpu_seconds": cpu,
            "images_per_cpu_second": images / max(cpu, 1e-9)}


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
    cpu, start = time.process_time(), time.perf_counter()
    cache = train.prepare_cache(options, ctx, {}, samples, workers)
    build = time.perf_counter() - start
    loader = train_data.make_train_loader(train_pipeline.FastTrainDataset(samples, args.image_size, cache), ctx,
                                          (0, 1), args.batch_size, workers, 0, device.type == "cuda",
                                          last_epoch=args.epochs - 1)  # _time_epochs: 0..epochs - 1
    images, seconds, worker_cpu = _time_epochs(loader, args.epochs, device, speed, loader.sampler.set_epoch)
    total = build + seconds
    cpu = time.process_time() - cpu + worker_cpu
    return {"images": images, "seconds": total, "cache_build_seconds": build, "cached": len(cache or ()),
            "images_per_sec": images / total, "cpu_seconds": cpu, "images_per_cpu_second": images / max(cpu, 1e-9)}


def run_isolated(bench, args, device, workers, keep_freed_memory: bool) -> dict:
    """``bench(args, device, workers)`` in a process of its own (forked), its malloc as train.py's
    on a CPU (train.keep_freed_memory) or glibc's default: one run's heap never shapes the next,
    and each loader runs under the allocator it would have."""
    import multiprocessing
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)

    def child():
        try:
            if keep_freed_memory:
                train.keep_freed_memory()
            send.send(("ok", bench(args, device, workers)))
        except BaseException as err:  # the parent reports it
            send.send(("error", "{}: {}".format(type(err).__name__, err)))

    proc = ctx.Process(target=child)
    proc.start()
    send.close()
    try:
        status, value = receive.recv()
    except EOFError:  # it died without a word
        status, value = "error", None
    proc.join()
    if value is None:
        value = "the run's process died (exit code {})".format(proc.exitcode)
    if status != "ok":
        raise RuntimeError(value)
    return value


def run_seed(args, device, workers) -> dict:
    return run_isolated(bench_seed_loader, args, device, workers, args.seed_malloc == "kept")


def run_ours(args, device, workers) -> dict:
    return run_isolated(bench_train_pipeline, args, device, workers, device.type == "cpu")


def _median(values):
    return statistics.median(values)


def compare_sizes(args, device, specs, workers) -> int:
    """--sizes: for each photo size, --pairs alternating (seed, train.py) runs on N fresh JPEGs."""
    root = args.data_dir or tempfile.mkdtemp(prefix="bench-photos-")
    cores = max(1, workers)
    print("bench loader sizes={} images={} pairs={} workers={} image_size={} epochs={} batch_size={} device={} "
          "cpus={} seed_malloc={}".format(",".join(specs), args.make_data, args.pairs, workers, args.image_size,
                                          args.epochs, args.batch_size, device.type, os.cpu_count(), args.seed_malloc),
          flush=True)
    table = []
    for spec in specs:
        os.makedirs(root, exist_ok=True)
        args.data_dir = tempfile.mkdtemp(prefix=spec + "-", dir=root)  # fresh: never writes into existing data
        sizes = photo_sizes(spec, args.make_data)
        make_photos(args.data_dir, args.make_data, sizes)
        kb = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(args.data_dir) for f in fs) / 1024
        runs = {"seed": [], "ours": []}
        loads = [os.getloadavg()[0]]
        for pair in range(args.pairs):
            for name, bench in (("seed", run_seed), ("ours", run_ours)):
                r = bench(args, device, workers)
                runs[name].append(r)
                print("run size={} pair={} loader={} images_per_sec={:.1f} per_core={:.1f} per_cpu_second={:.1f} "
                      "seconds={:.2f} cpu_seconds={:.2f} load={:.1f}".format(
                          spec, pair + 1, "seed" if name == "seed" else "train.py", r["images_per_sec"],
                          r["images_per_sec"] / cores, r["images_per_cpu_second"], r["seconds"], r["cpu_seconds"],
                          os.getloadavg()[0]), flush=True)
            loads.append(os.getloadavg()[0])
        label = spec if spec == "mix" or len(set(sizes)) > 1 else "{}x{}".format(*sizes[0])
        row = {"size": label, "images": args.make_data, "kb_per_image": kb / args.make_data,
               "load": _median(loads), "runs": runs}
        for key, per in (("per_core", lambda r: r["images_per_sec"] / cores),
                         ("per_cpu_second", lambda r: r["images_per_cpu_second"])):
            row["seed_" + key] = _median([per(r) for r in runs["seed"]])
            row["ours_" + key] = _median([per(r) for r in runs["ours"]])
            row["ratio_" + key] = _median([per(o) / per(b) for b, o in zip(runs["seed"], runs["ours"])])
        table.append(row)
    print("{:<10} {:>6} {:>6} | {:>9} {:>9} {:>7} | {:>9} {:>9} {:>7} | {:>5}".format(
        "size", "images", "KB", "seed", "train.py", "ratio", "seed", "train.py", "ratio", "load"), flush=True)
    print("{:<10} {:>6} {:>6} | {:^27} | {:^27} |".format("", "", "", "images/s per core (wall)",
                                                           "images per CPU-second"), flush=True)
    for row in table:
        print("{size:<10} {images:>6} {kb_per_image:>6.0f} | {seed_per_core:>9.1f} {ours_per_core:>9.1f} "
              "{ratio_per_core:>6.2f}x | {seed_per_cpu_second:>9.1f} {ours_per_cpu_second:>9.1f} "
              "{ratio_per_cpu_second:>6.2f}x | {load:>5.1f}".format(**row), flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"sizes": table, "workers": workers, "epochs": args.epochs, "pairs": args.pairs}, fh, indent=2)
    return 0


def loader_only(args, device) -> int:
    ours = "keeps freed memory, as train.py on a CPU" if device.type == "cpu" else "glibc's default, as train.py on a GPU"
    seed = "glibc's default" if args.seed_malloc == "default" else "keeps freed memory too (--seed-malloc kept)"
    print("note: each run in a process of its own; malloc in train.py's runs: {}; in the seed-style loader's: {}".format(
        ours, seed), file=sys.stderr, flush=True)
    if args.sizes:
        specs = [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
        try:
            for spec in specs:
                photo_sizes(spec, 1)
        except ValueError as err:
            print("error: --sizes: {}".format(err), file=sys.stderr)
            return 2
        if not specs or args.make_data <= 0 or args.pairs <= 0:
            print("error: --sizes needs a size list, --make-data N (N > 0) and --pairs > 0, e.g. --sizes 300,mix "
                  "--make-data 200 --pairs 3", file=sys.stderr)
            return 2
        return compare_sizes(args, device, specs, args.workers if args.workers >= 0 else (os.cpu_count() or 1))
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
    base = run_seed(args, device, workers)
    print("baseline images_per_sec={:.1f} per_core={:.1f} seconds={:.2f} images={}".format(
        base["images_per_sec"], base["images_per_sec"] / cores, base["seconds"], base["images"]), flush=True)
    new = run_ours(args, device, workers)
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
