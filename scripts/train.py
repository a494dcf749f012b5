"""Fine-tune a torchvision ResNet on ImageFolder train/valid/test splits: one script for SageMaker,
EC2 and a laptop.

Configuration: flags, declared in hyperparameters.json (name, type, range, default, help; the
TypeScript CLI validates configs against the same file), whose defaults come from SageMaker's SM_*
environment when it is present (SM_CHANNEL_TRAIN/VALID/TEST, SM_MODEL_DIR, SM_OUTPUT_DATA_DIR). The
flags are also the hyperparameter names (``--batch-size 64``, ``--freeze-backbone true``);
``batch_size``-style spellings are accepted too, unknown ones are ignored with a warning, and values
outside the file's min/max are refused (exit 2).

Distribution (see train_dist.py): torchrun, one process per SageMaker host, or a single process.
With N processes each trains on 1/N of every epoch (DistributedSampler) and gradients are averaged
by DistributedDataParallel. ``--batch-size`` is per process.

Output, printed by the leader only, one flushed line each, stable for regexes:
    epoch=3 train_loss=0.912 val_loss=0.805 val_accuracy=0.771 images_per_sec=412.5
    test_accuracy=0.765 test_loss=0.812
Progress and diagnostics go to stderr. The leader writes model.pth (state_dict), classes.json,
model-info.json and code/ (inference.py and the modules it imports) to the model dir, metrics.json to the
output data dir, and a checkpoint per epoch to --checkpoint-dir, which the next run resumes from.
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import json
import os
import random
import sys
import time
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

import evaluation
import model_def
import train_artifacts
import train_data
import train_dist
import train_pipeline

SAGEMAKER_CHECKPOINT_DIR = "/opt/ml/checkpoints"  # synced to S3 by CheckpointConfig (spot)


class UsageError(Exception):
    """A problem the user fixes (flags, data, network); printed without a traceback."""


# --------------------------------------------------------------------------- arguments


def str_to_bool(value) -> bool:
    """SageMaker sends booleans as text (``true``, ``True``); accept the usual spellings."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "t", "yes", "y", "on"):
        return True
    if text in ("0", "false", "f", "no", "n", "off", "none", ""):
        return False
    raise argparse.ArgumentTypeError("expected true or false, got {!r}".format(value))


def lenient_int(value) -> int:
    """``10`` or ``10.0``: tuners and JSON round-trips sometimes turn integers into floats."""
    number = float(value)
    if not number.is_integer():
        raise argparse.ArgumentTypeError("expected a whole number, got {!r}".format(value))
    return int(number)


def amp_mode(value) -> str:
    """``--amp``: auto, bf16, fp16 or off; booleans from a config (``amp: false``) mean off/auto."""
    text = str(value).strip().lower()
    if text in ("auto", "bf16", "fp16"):
        return text
    return "auto" if str_to_bool(text) else "off"


HYPERPARAMETERS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hyperparameters.json")
_TYPES = {"int": lenient_int, "float": float, "string": str}


def load_hyperparameters(path: str = HYPERPARAMETERS_FILE) -> list:
    """The entries of hyperparameters.json (its format is described in the file itself)."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)["hyperparameters"]


def _flag_names(flag: str) -> list:
    """``--some-flag`` together with its ``--some_flag`` spelling."""
    return [flag] + (["--" + flag[2:].replace("-", "_")] if "-" in flag[2:] else [])


def _default(spec, env, in_sagemaker):
    for var in spec.get("env", ()):
        if env.get(var):
            return env[var]
    if in_sagemaker and "sagemaker_default" in spec:
        return spec["sagemaker_default"]
    return spec["default"]


def _add_hyperparameter(parser, spec, env, in_sagemaker) -> None:
    kind, flag = spec["type"], "--" + spec["name"]
    kwargs = {"default": _default(spec, env, in_sagemaker), "help": spec.get("help")}
    if kind == "bool":
        kwargs.update(type=str_to_bool, nargs="?", const=True)
    elif kind == "choice":
        kwargs["choices"] = tuple(spec["choices"])
        if spec["name"] == "amp":
            kwargs["type"] = amp_mode
        elif "bool_means" in spec:
            raise ValueError("bool_means is only implemented for amp")
    else:
        kwargs["type"] = _TYPES[kind]
    parser.add_argument(*_flag_names(flag), **kwargs)
    if spec.get("negative_flag"):
        parser.add_argument(*_flag_names(spec["negative_flag"]), dest=spec["name"].replace("-", "_"),
                            action="store_false", help="same as {} false".format(flag))


def build_parser(env, specs=None) -> argparse.ArgumentParser:
    """Flags from hyperparameters.json, with defaults from SageMaker's environment (absent
    variables mean flag mode)."""
    in_sagemaker = bool(env.get("SM_CURRENT_HOST") or env.get("SM_TRAINING_ENV"))
    # allow_abbrev off: an unknown hyperparameter must never be taken for a prefix of a known one.
    p = argparse.ArgumentParser(
        description="Fine-tune a torchvision ResNet on ImageFolder train/valid/test folders.", allow_abbrev=False)
    for spec in specs if specs is not None else load_hyperparameters():
        _add_hyperparameter(p, spec, env, in_sagemaker)
    return p


def check_ranges(args, specs) -> None:
    """min/max from hyperparameters.json; the same bounds the CLI checks before launching."""
    for spec in specs:
        if spec["type"] not in ("int", "float"):
            continue
        value = getattr(args, spec["name"].replace("-", "_"))
        low, high = spec.get("min"), spec.get("max")
        if value is None or ((low is None or value >= low) and (high is None or value <= high)):
            continue
        if low is not None and high is not None:
            bounds = "between {:g} and {:g}".format(low, high)
        elif low is not None:
            bounds = "at least {:g}".format(low)
        else:
            bounds = "at most {:g}".format(high)
        raise UsageError("--{} must be {}, got {:g}".format(spec["name"], bounds, value))


def parse_args(argv, env):
    """Parse flags; unknown ones (extra hyperparameters) are returned for a warning, not fatal."""
    specs = load_hyperparameters()
    args, unknown = build_parser(env, specs).parse_known_args(argv)
    if not args.train or not args.valid:
        raise UsageError("--train and --valid are required (or SM_CHANNEL_TRAIN / SM_CHANNEL_VALID)")
    check_ranges(args, specs)
    if args.checkpoint_dir.strip().lower() in ("none", "off", "false"):
        args.checkpoint_dir = ""
    if args.backbone_lr_scale is None:
        args.backbone_lr_scale = 0.1 if args.weights == "imagenet" else 1.0
    return args, unknown


# --------------------------------------------------------------------------- setup


@dataclass(frozen=True)
class SpeedConfig:
    """The GPU speed features in force (all off on CPU)."""

    amp_dtype: object = None  # torch.bfloat16, torch.float16 or None
    channels_last: bool = False
    cudnn_benchmark: bool = False
    amp_reason: str = ""  # what the log says about the precision choice

    @property
    def needs_scaler(self) -> bool:
        # fp16 underflows without loss scaling; bf16 has fp32's range and does not.
        return self.amp_dtype == torch.float16


def _gpu_label(device: torch.device) -> str:
    """``T4 sm_75``: the short device name and its compute capability, for the log."""
    major, minor = torch.cuda.get_device_capability(device)
    name = torch.cuda.get_device_name(device).replace("NVIDIA ", "").replace("Tesla ", "").strip()
    return "{} sm_{}{}".format(name or "GPU", major, minor)


def choose_amp(device: torch.device, amp: str = "auto"):
    """(dtype or None, why) for ``--amp`` on ``device``.

    bf16 only where the tensor cores do it natively, compute capability >= 8.0 (Ampere on):
    torch.cuda.is_bf16_supported() also counts emulation, which is true on a T4 (sm_75) and
    much slower than fp16 there (issue 14).
    """
    if device.type != "cuda":
        return None, "off on {}".format(device.type)
    if amp == "off":
        return None, "off (--amp off)"
    label = _gpu_label(device)
    native_bf16 = tuple(torch.cuda.get_device_capability(device)) >= (8, 0)
    if amp == "bf16":
        if native_bf16:
            return torch.bfloat16, "bf16 (--amp bf16; {} has native bf16)".format(label)
        return torch.bfloat16, "bf16 (--amp bf16, but {} has no native bf16: emulated, slow)".format(label)
    if amp == "fp16":
        return torch.float16, "fp16 with a grad scaler (--amp fp16)"
    if native_bf16:
        return torch.bfloat16, "bf16 ({} has native bf16)".format(label)
    return torch.float16, "fp16 with a grad scaler ({} has no native bf16)".format(label)


def speed_config(device: torch.device, amp: str = "auto", channels_last: bool = True) -> SpeedConfig:
    dtype, reason = choose_amp(device, amp)
    if device.type != "cuda":
        return SpeedConfig(amp_reason=reason)
    return SpeedConfig(amp_dtype=dtype, channels_last=channels_last, cudnn_benchmark=True, amp_reason=reason)


def apply_backend_flags(speed: SpeedConfig) -> None:
    """cudnn autotuning and TF32 matmuls: free speed for fixed-size image batches."""
    torch.backends.cudnn.benchmark = speed.cudnn_benchmark
    if speed.cudnn_benchmark and hasattr(torch, "set_float32_matmul_precision"):
        torch.set_float32_matmul_precision("high")


#: glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4


def keep_freed_memory(trim_threshold: int = 1 << 30) -> bool:
    """glibc: serve every allocation from the heap and keep what is freed, up to ``trim_threshold``
    bytes at its top, for the next one. By default glibc maps an allocation of over 32 MB afresh
    each time and unmaps it when freed: on a CPU, a batch of 64 floats at 224 px (38.5 MB) is
    9,400 page faults and 38.5 MB of zeroing in the kernel per batch, as much CPU as normalising
    it (measured: the loader's main process 0.21 -> 0.13-0.16 ms an image), and the model's
    activations are the same again. What PyTorch's CPU tuning guide gets from jemalloc or tcmalloc,
    from the allocator already loaded. False where this is not glibc (musl has no mallopt)."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, trim_threshold))


def make_grad_scaler(speed: SpeedConfig):
    if not speed.needs_scaler:
        return None
    if hasattr(torch, "amp") and hasattr(torch.amp, "GradScaler"):  # torch >= 2.3
        return torch.amp.GradScaler("cuda")
    return torch.cuda.amp.GradScaler()


def autocast(speed: SpeedConfig, device: torch.device):
    if speed.amp_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=speed.amp_dtype)


def seed_everything(seed: int, rank: int) -> None:
    # Per-rank offset: identical weights come from DDP's broadcast, augmentations should differ.
    random.seed(seed + rank)
    torch.manual_seed(seed + rank)


def log(ctx, message: str) -> None:
    prefix = "[rank {}/{}] ".format(ctx.rank, ctx.world_size) if ctx.world_size > 1 else ""
    print(prefix + message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- data


def load_splits(args, ctx, env):
    """Class list, datasets and loaders for train/valid/test (test may be absent)."""
    sharded = train_data.sharded_channels(env) if ctx.world_size > 1 else set()
    classes = train_data.class_folders(args.train)
    if "train" in sharded:  # each host sees part of the data: agree on the union of classes
        classes = sorted(set().union(*train_dist.gather_objects(ctx, classes)))
    if not classes:
        raise UsageError("no class folders in {}".format(args.train))
    if len(classes) == 1:
        raise UsageError("only one class folder ({}) in {}: a classifier needs at least two".format(classes[0], args.train))
    on_gpu = ctx.device.type == "cuda"
    workers = train_data.auto_num_workers(args.num_workers, ctx.local_world_size, on_gpu)
    samples = readable(ctx, args.train, train_data.scan_samples(args.train, classes))
    check_every_class_trains(ctx, classes, samples, args.train, "train" in sharded)
    train_set = train_pipeline.FastTrainDataset(
        samples, args.image_size, prepare_cache(args, ctx, env, samples, workers))
    loaders = {"train": train_data.make_train_loader(
        train_set, ctx, train_data.data_group(ctx, "train" in sharded), args.batch_size,
        workers, args.seed, on_gpu, last_epoch=args.epochs)}  # fit's epochs run 1..--epochs
    for split in ("valid", "test"):
        root = getattr(args, split)
        if not root:
            continue
        dataset = train_data.ImageListDataset(
            readable(ctx, root, train_data.scan_samples(root, classes)), model_def.eval_transform(args.image_size))
        loaders[split] = train_data.make_eval_loader(
            dataset, train_data.data_group(ctx, split in sharded), args.batch_size, workers, on_gpu)
    sizes = train_dist.all_reduce_sum(ctx, [len(loaders["valid"].dataset)])
    if sizes[0] == 0:
        raise UsageError("no images in the validation folder {}".format(args.valid))
    return classes, loaders, workers


def readable(ctx, root, samples):
    """The samples whose image PIL can open; the others are left out with a count and their names
    (one unreadable file used to kill the job mid-epoch with a traceback naming no file)."""
    good, bad = train_data.readable_samples(samples)
    if bad and ctx.local_rank == 0:
        log(ctx, "warning: skipped {} unreadable image{} in {}:".format(len(bad), "" if len(bad) == 1 else "s", root))
        for path, why in bad[:20]:
            log(ctx, "  {} ({})".format(os.path.relpath(path, root), why))
        if len(bad) > 20:
            log(ctx, "  ... and {} more".format(len(bad) - 20))
    return good


def check_every_class_trains(ctx, classes, samples, root, sharded):
    """Every class needs a training image (summed over hosts when SageMaker shards the channel): a
    class with none could never be predicted, and its folder is usually a mistake."""
    counts = [0] * len(classes)
    for _, target in samples:
        counts[target] += 1
    if sharded:
        counts = train_dist.all_reduce_sum(ctx, counts)
    empty = [name for name, n in zip(classes, counts) if n == 0]
    if empty:
        raise UsageError("no readable training images for {} class{} in {}: {} (every class needs at least one; "
                         "add images or remove the folder from every split)".format(
                             len(empty), "" if len(empty) == 1 else "es", root, ", ".join(empty[:10])))


def prepare_cache(args, ctx, env, samples, workers):
    """Build this process's shard of the training-image cache (once per job: later epochs and
    reruns reuse it), wait for the host's other processes, and index what everyone built."""
    if not args.cache:
        log(ctx, "cache: off (--no-cache)")
        return None
    cache_dir = args.cache_dir or train_pipeline.default_cache_dir(env)
    try:
        os.makedirs(cache_dir, exist_ok=True)
        if not os.access(cache_dir, os.W_OK):
            raise PermissionError("not writable")
    except OSError as err:
        log(ctx, "warning: cache off, cannot use {} ({})".format(cache_dir, err))
        cache_dir = ""
    short_side = train_pipeline.cache_short_side(args.image_size, args.cache_scale)
    if cache_dir:
        start = time.perf_counter()
        stats = train_pipeline.build_cache(
            samples, cache_dir, short_side, shard=(ctx.local_rank, ctx.local_world_size),
            max_bytes=args.cache_max_gb * 1e9, workers=max(1, workers), announce=lambda plan: announce_cache(ctx, plan))
        log(ctx, "cache: built {built}, reused {reused}, over the cap {skipped}, unreadable {failed}, "
                 "{mb:.1f} MB in {dir} ({sec:.1f} s)".format(
                     mb=stats["bytes"] / 1e6, dir=cache_dir, sec=time.perf_counter() - start, **stats))
    train_dist.barrier(ctx)  # every rank (even one without a usable dir) reaches the barrier
    return train_pipeline.cache_index(samples, cache_dir, short_side) if cache_dir else None


def announce_cache(ctx, plan) -> None:
    """Say up front what the pixel cache will take, before the first image is decoded."""
    cap = "no cap" if plan["max_bytes"] == float("inf") else "cap {:.1f} GB".format(plan["max_bytes"] / 1e9)
    log(ctx, "cache: {cached} of {images} images, {gb:.2f} GB of decoded pixels (all: {all_gb:.2f} GB; {cap}, "
             "{free_gb:.1f} GB free) in {path}".format(gb=plan["bytes"] / 1e9, all_gb=plan["total_bytes"] / 1e9,
                                                     cap=cap, free_gb=plan["free_bytes"] / 1e9, **plan))


# --------------------------------------------------------------------------- model


def build_core_model(args, num_classes, ctx, speed) -> nn.Module:
    """The ResNet on its device; the first process of each host downloads weights, the rest
    wait and read the cache, so they do not race on the same file."""
    first = ctx.local_rank == 0
    if ctx.initialized and args.weights == "imagenet" and not first:
        train_dist.barrier(ctx)
    model = model_def.build_model(args.arch, num_classes, args.weights)
    if ctx.initialized and args.weights == "imagenet" and first:
        train_dist.barrier(ctx)
    if args.freeze_backbone:
        for p in model_def.backbone_parameters(model):
            p.requires_grad_(False)
    model = model.to(ctx.device)
    if speed.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def wrap_for_training(core: nn.Module, ctx, compile_model: bool) -> nn.Module:
    """DDP when distributed, torch.compile when asked and available."""
    model = core
    if compile_model:
        if hasattr(torch, "compile"):
            model = torch.compile(model)
        else:
            log(ctx, "warning: torch.compile needs torch 2.x; continuing without it")
    if ctx.initialized:
        device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        model = DistributedDataParallel(model, device_ids=device_ids, gradient_as_bucket_view=True)
    return model


def make_optimizer(core: nn.Module, args):
    """AdamW with a smaller lr on the pretrained backbone than on the new head."""
    head = [p for p in core.fc.parameters() if p.requires_grad]
    backbone = [p for p in model_def.backbone_parameters(core) if p.requires_grad]
    groups = [{"params": head, "lr": args.lr}]
    if backbone:
        groups.append({"params": backbone, "lr": args.lr * args.backbone_lr_scale})
    return torch.optim.AdamW(groups, lr=args.lr, weight_decay=args.weight_decay)


def set_train_mode(core: nn.Module, freeze_backbone: bool) -> None:
    core.train()
    if freeze_backbone:  # frozen features: keep BatchNorm statistics as pretrained
        for name, module in core.named_modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and not name.startswith("fc"):
                module.eval()


# --------------------------------------------------------------------------- steps


def to_device(inputs, targets, speed, device):
    """Move a batch; non_blocking overlaps the copy with compute when memory is pinned. uint8
    batches (the training pipeline's) are converted and normalised on the device."""
    memory_format = torch.channels_last if speed.channels_last else torch.contiguous_format
    if inputs.dtype == torch.uint8:
        inputs = train_pipeline.normalize(inputs, device, memory_format=memory_format)
    else:
        inputs = inputs.to(device, non_blocking=True, memory_format=memory_format)
    return inputs, targets.to(device, non_blocking=True)


def train_step(model, inputs, targets, criterion, optimizer, scaler, speed, device):
    """One optimisation step on a batch already on the device; returns the (device) loss."""
    optimizer.zero_grad(set_to_none=True)
    with autocast(speed, device):
        loss = criterion(model(inputs), targets)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()
    return loss.detach()


PROGRESS_SECONDS = 5.0


class BatchProgress:
    """Per-batch progress with an ETA inside an epoch, so a long CPU epoch is not silent (issue 31
    item 2). One line on the first and the last batch and at most every ``interval`` seconds between:
    ``progress: epoch 2/10 batch 30/120 (25%) elapsed 41.0s eta 123.0s``. It holds no ``name=value``
    pair, so the metric regexes (the tuner's, the CLI's) never mistake it for a metric line."""

    def __init__(self, emit, epoch, epochs, total, interval=PROGRESS_SECONDS, clock=time.perf_counter):
        self.emit, self.epoch, self.epochs, self.total = emit, epoch, epochs, total
        self.interval, self.clock = interval, clock
        self.start = clock()
        self.last = None

    def update(self, batches):
        now = self.clock()
        if batches not in (1, self.total) and self.last is not None and now - self.last < self.interval:
            return
        self.last = now
        elapsed = now - self.start
        eta = elapsed / batches * max(self.total - batches, 0)
        self.emit("progress: epoch {}/{} batch {}/{} ({}%) elapsed {:.1f}s eta {:.1f}s".format(
            self.epoch, self.epochs, batches, self.total, int(100 * batches / max(self.total, 1)), elapsed, eta))


def train_one_epoch(model, loader, criterion, optimizer, scaler, speed, device, max_steps=None, progress=None):
    """One pass over this rank's batches; returns (loss sum, images, batches, seconds).

    The loss is accumulated on the device so the loop never waits for the GPU to report it.
    ``progress`` (a BatchProgress, the leader's) hears of each finished batch.
    """
    total_loss = torch.zeros((), device=device)
    images = batches = 0
    start = time.perf_counter()
    for inputs, targets in loader:
        if max_steps is not None and batches >= max_steps:
            break
        inputs, targets = to_device(inputs, targets, speed, device)
        loss = train_step(model, inputs, targets, criterion, optimizer, scaler, speed, device)
        total_loss += loss.float() * targets.size(0)
        images += targets.size(0)
        batches += 1
        if progress is not None:
            progress.update(batches)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return total_loss.item(), images, batches, time.perf_counter() - start


def evaluate(core, loader, speed, device):
    """(loss sum, correct, images) on this rank's share; plain cross-entropy, no smoothing."""
    core.eval()
    criterion = nn.CrossEntropyLoss(reduction="sum")
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    images = 0
    with torch.no_grad():
        for inputs, targets in loader:
            inputs, targets = to_device(inputs, targets, speed, device)
            with autocast(speed, device):
                logits = core(inputs)
            total_loss += criterion(logits.float(), targets)
            correct += (logits.argmax(dim=1) == targets).sum()
            images += targets.size(0)
    return total_loss.item(), correct.item(), images


def global_eval(core, loader, speed, ctx):
    """Evaluate every rank's share and combine: (mean loss, accuracy) over all images."""
    loss_sum, correct, n = train_dist.all_reduce_sum(ctx, evaluate(core, loader, speed, ctx.device))
    return loss_sum / max(n, 1), correct / max(n, 1)


def epoch_line(epoch, train_loss, val_loss, val_accuracy, images_per_sec) -> str:
    """The per-epoch metric line the tuner's regexes and the CLI's log view parse. Keep stable."""
    return "epoch={} train_loss={:.3f} val_loss={:.3f} val_accuracy={:.3f} images_per_sec={:.1f}".format(
        epoch, train_loss, val_loss, val_accuracy, images_per_sec)


def test_line(test_accuracy, test_loss) -> str:
    return "test_accuracy={:.3f} test_loss={:.3f}".format(test_accuracy, test_loss)


# --------------------------------------------------------------------------- the run


@dataclass
class Trainer:
    """Everything one training process holds; built by setup(), used by the steps below."""

    classes: list
    loaders: dict
    core: nn.Module  # the plain ResNet: state dicts, evaluation
    model: nn.Module  # what trains: core, maybe compiled, maybe wrapped in DDP
    optimizer: object
    scheduler: object
    scaler: object
    criterion: nn.Module
    speed: SpeedConfig
    checkpoint_dir: str
    workers: int


def setup(args, ctx, env) -> Trainer:
    seed_everything(args.seed, ctx.rank)
    speed = speed_config(ctx.device, args.amp, args.channels_last)
    apply_backend_flags(speed)
    if ctx.device.type == "cpu":  # batches and activations are host memory (pinned memory is not malloc's)
        keep_freed_memory()
    classes, loaders, workers = load_splits(args, ctx, env)
    core = build_core_model(args, len(classes), ctx, speed)
    optimizer = make_optimizer(core, args)
    checkpoint_dir = args.checkpoint_dir
    if ctx.is_leader:  # only the leader writes checkpoints
        checkpoint_dir = train_artifacts.usable_checkpoint_dir(checkpoint_dir, lambda m: log(ctx, m))
    return Trainer(
        classes=classes, loaders=loaders, core=core, model=wrap_for_training(core, ctx, args.compile),
        optimizer=optimizer,
        scheduler=torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs),
        scaler=make_grad_scaler(speed),
        criterion=nn.CrossEntropyLoss(label_smoothing=args.label_smoothing),
        speed=speed, checkpoint_dir=checkpoint_dir, workers=workers)


def resume(t: Trainer, args, ctx):
    """Progress and best weights from the leader's latest checkpoint, on every rank."""
    state = None
    if ctx.is_leader and t.checkpoint_dir:
        state = train_artifacts.read_latest_checkpoint(t.checkpoint_dir, lambda m: log(ctx, m))
    state = train_dist.broadcast_object(ctx, state)
    progress = {"epoch": 0, "best_accuracy": -1.0, "best_epoch": 0, "stale_epochs": 0, "history": []}
    if state is None:
        return progress, None
    if state.get("arch") != args.arch or state.get("classes") != list(t.classes):
        raise UsageError(
            "the checkpoint in {} is from another run (arch {}, {} classes); start from a fresh folder with "
            "`mlops train --hyperparameter checkpoint-dir=<new folder>` (or delete this one)"
            .format(args.checkpoint_dir, state.get("arch"), len(state.get("classes") or [])))
    t.core.load_state_dict(state["model"])
    t.optimizer.load_state_dict(state["optimizer"])
    t.scheduler.load_state_dict(state["scheduler"])
    t.scheduler.T_max = args.epochs  # the schedule follows this run's --epochs, not the old one
    if t.scaler is not None and state.get("scaler"):
        t.scaler.load_state_dict(state["scaler"])
    if ctx.is_leader:
        log(ctx, "resuming after epoch {} from {}".format(state["epoch"], t.checkpoint_dir))
    return {k: state[k] for k in progress}, state.get("best_model")


def train_epoch(t: Trainer, args, ctx, epoch: int) -> dict:
    """Train on this rank's share, validate on everyone's; returns the epoch's global metrics."""
    t.loaders["train"].sampler.set_epoch(epoch)  # a different shuffle each epoch, same on resume
    seed_everything(args.seed + 1000 * epoch, ctx.rank)  # augmentations too (exact with 0 workers)
    set_train_mode(t.core, args.freeze_backbone)
    steps = train_dist.all_reduce_min_int(ctx, len(t.loaders["train"]))
    progress = BatchProgress(lambda m: log(ctx, m), epoch, args.epochs, steps) if ctx.is_leader else None
    loss_sum, images, batches, seconds = train_one_epoch(
        t.model, t.loaders["train"], t.criterion, t.optimizer, t.scaler, t.speed, ctx.device, max_steps=steps,
        progress=progress)
    log(ctx, "epoch {}: {} train batches, {} images".format(epoch, batches, images))
    loss_sum, images = train_dist.all_reduce_sum(ctx, [loss_sum, images])
    val_loss, val_accuracy = global_eval(t.core, t.loaders["valid"], t.speed, ctx)
    t.scheduler.step()
    return {"epoch": epoch, "train_loss": loss_sum / max(images, 1), "val_loss": val_loss,
            "val_accuracy": val_accuracy, "images_per_sec": images / max(seconds, 1e-9)}


def fit(t: Trainer, args, ctx, progress: dict, best_state):
    """Epochs from where the checkpoint left off until done or early-stopped; returns the best
    weights (on CPU) or None when no epoch ran."""
    for epoch in range(progress["epoch"] + 1, args.epochs + 1):
        if args.patience and progress["stale_epochs"] >= args.patience:
            if ctx.is_leader:
                log(ctx, "early stop: val_accuracy has not improved for {} epochs (best {:.3f} at epoch {})"
                    .format(args.patience, progress["best_accuracy"], progress["best_epoch"]))
            break
        m = train_epoch(t, args, ctx, epoch)
        improved = m["val_accuracy"] > progress["best_accuracy"]
        if improved:
            best_state = train_artifacts.cpu_state(t.core)
            progress.update(best_accuracy=m["val_accuracy"], best_epoch=epoch, stale_epochs=0)
        else:
            progress["stale_epochs"] += 1
        progress["epoch"] = epoch
        progress["history"].append(m)
        if ctx.is_leader:
            print(epoch_line(epoch, m["train_loss"], m["val_loss"], m["val_accuracy"], m["images_per_sec"]),
                  flush=True)
            if t.checkpoint_dir:
                train_artifacts.save_checkpoint(t.checkpoint_dir, dict(
                    progress, model=train_artifacts.cpu_state(t.core), optimizer=t.optimizer.state_dict(),
                    scheduler=t.scheduler.state_dict(), scaler=t.scaler.state_dict() if t.scaler else None,
                    arch=args.arch, classes=list(t.classes), image_size=args.image_size),
                    best_state if improved else None)
    return best_state


def finish(t: Trainer, args, ctx, progress: dict, best_state) -> dict:
    """Test the best weights; the leader prints the test line and writes model and metrics."""
    final = best_state if best_state is not None else train_artifacts.cpu_state(t.core)
    t.core.load_state_dict(final)
    metrics = {"arch": args.arch, "world_size": ctx.world_size, "epochs_run": progress["epoch"],
               "best_epoch": progress["best_epoch"], "best_val_accuracy": progress["best_accuracy"],
               "history": progress["history"]}
    if "test" in t.loaders:
        test_loss, test_accuracy = global_eval(t.core, t.loaders["test"], t.speed, ctx)
        metrics.update(test_loss=test_loss, test_accuracy=test_accuracy)
        if ctx.is_leader:
            print(test_line(test_accuracy, test_loss), flush=True)
    elif ctx.is_leader:
        log(ctx, "no --test folder: skipping the test evaluation")
    if ctx.is_leader:
        bf16 = check_bf16(args, ctx, t.classes, final) if "test" in t.loaders else None
        if bf16 is not None:
            metrics["bf16_check"] = bf16
        train_artifacts.save_model(args.model_dir, final, t.classes, args.arch, args.image_size,
                                   {"bf16": bf16} if bf16 is not None else None)
        train_artifacts.write_metrics(args.output_data_dir, metrics)
        if "test" in t.loaders and args.output_data_dir:
            write_test_evaluation(t, args, ctx)
        log(ctx, "saved {} to {}".format(model_def.MODEL_FILE, args.model_dir))
    train_dist.barrier(ctx)  # nobody exits (and tears the group down) before the leader is done
    return metrics


def check_bf16(args, ctx, classes, weights):
    """The test split's top-1 on the CPU in fp32 and under bf16 autocast (evaluation.check_bf16), for
    model-info.json: the predictor's bf16 gate on CPUs with native bf16 (issue 30 item 1). A fresh
    CPU copy of the final weights, the predictor's threads; at most --bf16-check-images images and
    about --bf16-check-seconds.
    None when off or when it fails: an optional check never costs the trained model."""
    if not args.bf16_check_images:
        log(ctx, "bf16 check: off (--bf16-check-images 0): the predictor stays fp32 on every CPU")
        return None
    try:
        model = model_def.build_model(args.arch, len(classes), weights="none")
        model.load_state_dict(weights)
        record = evaluation.check_bf16(model, classes, args.test, args.image_size, args.bf16_check_images,
                                       args.bf16_check_seconds)
    except Exception as err:  # e.g. a torch without bf16 autocast on CPU
        log(ctx, "warning: bf16 check failed ({}: {}); the predictor stays fp32".format(type(err).__name__, err))
        return None
    log(ctx, "bf16 check: top-1 {:.2%} fp32, {:.2%} bf16 autocast on {} test images ({:.2%} same answers): {} "
        "0.5 points, {:.1f}s{}".format(
            record["top1_fp32"], record["top1_bf16"], record["images"], record["same_top1"],
            "within" if record["within_half_point"] else "NOT within", record["seconds"],
            " (stopped at --bf16-check-seconds)" if record["time_limited"] else ""))
    return record


def write_test_evaluation(t: Trainer, args, ctx) -> None:
    """evaluation.json (per class, confusion matrix, worst files) of the test split, beside
    metrics.json: through the predictor (inference.predict_batch) that serves the model, so
    ``mlops evaluate`` on the saved model reproduces it. The leader alone; the test split is small."""
    bundle = {"model": t.core, "classes": [model_def.display_name(c) for c in t.classes], "arch": args.arch,
              "device": ctx.device, "transform": model_def.eval_transform(args.image_size)}
    t.core.eval()
    result = evaluation.evaluate_model(bundle, args.test, split="test", batch_size=args.batch_size)
    path = evaluation.write_evaluation(os.path.join(args.output_data_dir, evaluation.EVALUATION_FILE), result)
    log(ctx, "evaluation: top-1 {:.3f}, top-5 {:.3f} on {} test images -> {}".format(
        result["top1_accuracy"], result["top5_accuracy"], result["images"], path))


def run(args, ctx, env) -> dict:
    """Train, validate every epoch, checkpoint, stop early, test, save. Returns the metrics."""
    t = setup(args, ctx, env)
    progress, best_state = resume(t, args, ctx)
    if ctx.is_leader:
        log(ctx, "training {} ({} classes, weights {}) on {} x {}, {} loader workers, amp {}, channels_last {}"
            .format(args.arch, len(t.classes), args.weights, ctx.world_size, ctx.device.type, t.workers,
                    t.speed.amp_dtype, t.speed.channels_last))
        log(ctx, "amp: " + t.speed.amp_reason)
    best_state = fit(t, args, ctx, progress, best_state)
    return finish(t, args, ctx, progress, best_state)


def worker(local_rank: int, args, plan, env) -> None:
    """One training process: join the group, run, leave."""
    ctx = train_dist.init_distributed(plan, local_rank, env)
    try:
        run(args, ctx, env)
    finally:
        train_dist.shutdown(ctx)


def report_failure(env, message: str) -> None:
    """SageMaker shows /opt/ml/output/failure as the job's FailureReason."""
    out = env.get("SM_OUTPUT_DIR")
    if out and os.path.isdir(out):
        with contextlib.suppress(OSError), open(os.path.join(out, "failure"), "w") as fh:
            fh.write(message[:1000])


def main(argv=None, env=None) -> int:
    env = dict(os.environ if env is None else env)
    try:
        args, unknown = parse_args(argv, env)
        if unknown:
            print("warning: ignoring unknown arguments: {}".format(" ".join(unknown)),
                  file=sys.stderr, flush=True)
        try:
            plan = train_dist.plan_processes(env, torch.cuda.device_count())
        except ValueError as err:  # SM_HOSTS / SM_CURRENT_HOST disagree
            raise UsageError(str(err)) from err
        if plan.mode == "hosts" and plan.procs_per_host > 1:
            torch.multiprocessing.spawn(worker, args=(args, plan, env), nprocs=plan.procs_per_host)
        else:
            worker(0, args, plan, env)
    except (UsageError, model_def.WeightsUnavailableError, FileNotFoundError, train_data.DataError) as err:
        message = "error: {}".format(err)
        print(message, file=sys.stderr, flush=True)
        report_failure(env, message)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
