"""What train.py leaves on disk: per-epoch checkpoints (for spot interruptions and resumes), the
model artifact (model.pth, classes.json, model-info.json, code/) and metrics.json."""
from __future__ import annotations

import os
import re
import shutil

import torch

import model_def

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
CHECKPOINT_RE = re.compile(r"^checkpoint-epoch(\d+)\.pt$")
BEST_MODEL_FILE = "best-model.pth"
KEEP_CHECKPOINTS = 2
#: The predictor and what it imports, in model.tar.gz's code/ folder: `mlops serve` runs deployment.py
#: from there, and deploy moves them to the archive root for the Ray Serve image.
SERVING_CODE = ("deployment.py", "inference.py", "model_def.py", "serve_compat.py", "url_fetch.py")


def usable_checkpoint_dir(path: str, warn) -> str:
    """The checkpoint dir if it can be written, else '' after a warning (never fatal: a run
    without checkpoints is better than no run)."""
    if not path:
        return ""
    try:
        os.makedirs(path, exist_ok=True)
        if not os.access(path, os.W_OK):
            raise PermissionError("not writable")
    except OSError as err:
        warn("warning: checkpoints disabled, cannot use {} ({})".format(path, err))
        return ""
    return path


def list_checkpoints(path: str) -> list:
    """``[(epoch, file), ...]`` oldest first."""
    if not path or not os.path.isdir(path):
        return []
    found = [(int(m.group(1)), os.path.join(path, name))
             for name in os.listdir(path) for m in [CHECKPOINT_RE.match(name)] if m]
    return sorted(found)


def read_latest_checkpoint(path: str, warn):
    """The newest checkpoint that loads (a spot interruption can truncate the last one), with
    the best weights so far under ``best_model``; None when there is none."""
    for _, file in reversed(list_checkpoints(path)):
        try:
            state = load_own_file(file)
        except Exception as err:  # truncated or foreign file: fall back to the one before
            warn("warning: skipping unreadable checkpoint {} ({})".format(file, err))
            continue
        best = os.path.join(path, BEST_MODEL_FILE)
        state["best_model"] = load_own_file(best) if os.path.exists(best) else None
        return state
    return None


def load_own_file(file: str):
    """Load a file this script wrote into the run's own checkpoint dir. A full unpickle: torch
    1.13's weights-only loader rejects plain floats (the optimizer's learning rate)."""
    try:
        return torch.load(file, map_location="cpu", weights_only=False)
    except TypeError:  # torch < 1.13 has no weights_only argument
        return torch.load(file, map_location="cpu")


def save_checkpoint(path: str, state: dict, best_state=None) -> None:
    """This epoch's checkpoint (and the best weights when they changed); keeps the last two."""
    if best_state is not None:
        atomic_torch_save(best_state, os.path.join(path, BEST_MODEL_FILE))
    atomic_torch_save(state, os.path.join(path, "checkpoint-epoch{:04d}.pt".format(state["epoch"])))
    for _, old in list_checkpoints(path)[:-KEEP_CHECKPOINTS]:
        os.remove(old)


def atomic_torch_save(obj, file: str) -> None:
    """Write then rename: an interruption leaves the previous file, not half a new one."""
    tmp = file + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, file)


def cpu_state(module) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def save_model(model_dir: str, weights: dict, classes, arch: str, image_size: int, extra_info=None) -> None:
    """model.pth, classes.json, model-info.json (plus ``extra_info``'s fields, e.g. the bf16 check)
    and code/, so model.tar.gz serves as is."""
    os.makedirs(model_dir, exist_ok=True)
    atomic_torch_save(weights, os.path.join(model_dir, model_def.MODEL_FILE))
    model_def.write_json(os.path.join(model_dir, model_def.CLASSES_FILE), model_def.classes_mapping(classes))
    info = model_def.model_info(arch, len(classes), image_size, classes)
    info.update(extra_info or {})
    model_def.write_json(os.path.join(model_dir, model_def.MODEL_INFO_FILE), info)
    code_dir = os.path.join(model_dir, "code")
    os.makedirs(code_dir, exist_ok=True)
    for name in SERVING_CODE:
        shutil.copy2(os.path.join(SCRIPT_DIR, name), os.path.join(code_dir, name))


def write_metrics(output_dir, metrics: dict) -> None:
    if output_dir:
        os.makedirs(output_dir, exist_ok=True)
        model_def.write_json(os.path.join(output_dir, "metrics.json"), metrics)
