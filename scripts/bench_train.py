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
import sys
import time

import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset, RandomSampler

import model_def
import train
import train_data

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
    return p.parse_args(argv)


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but CUDA is not available", file=sys.stderr)
        return 2
    use_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if use_cuda else "cpu")
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
