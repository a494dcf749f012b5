"""The one copy of the model code, shared by train.py, inference.py and bench_train.py.

Everything that must agree between training and serving lives here: the network builder, the
image transforms, the normalisation constants, the class-name rule and the artifact file names.
train.py copies this file next to inference.py into ``<model dir>/code/`` so a model.tar.gz
always carries the code that produced it.
"""
from __future__ import annotations

import json
import os
import re

import torch
import torchvision
from torch import nn
from torchvision import transforms

#: Architectures the CLI offers; all are torchvision ResNets with an ``fc`` head.
ARCHS = ("resnet18", "resnet34", "resnet50")
DEFAULT_ARCH = "resnet50"
#: ImageNet statistics: the pretrained weights expect them, and training from scratch loses nothing.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: RandomResizedCrop's area and aspect ranges for training. Scale floor 0.25 rather than 0.08:
#: dog photos are already tightly framed. train_pipeline draws crops from the same ranges.
TRAIN_SCALE = (0.25, 1.0)
TRAIN_RATIO = (3.0 / 4.0, 4.0 / 3.0)

MODEL_FILE = "model.pth"
CLASSES_FILE = "classes.json"
MODEL_INFO_FILE = "model-info.json"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be fetched (no network, blocked egress, bad cache)."""


def display_name(folder: str) -> str:
    """``001.Affenpinscher`` -> ``Affenpinscher``; ``002.Afghan_hound`` -> ``Afghan hound``.

    The Udacity dog-breed folders prefix a sortable number; people want the breed.
    """
    name = re.sub(r"^\d+[._\-\s]+", "", folder)
    return name.replace("_", " ").strip() or folder


def _weights_enum(arch: str):
    """The torchvision >= 0.13 weights enum (``ResNet50_Weights``), or None on older versions."""
    enum_name = "ResNet{}_Weights".format(arch[len("resnet"):])
    return getattr(torchvision.models, enum_name, None)


def build_model(arch: str, num_classes: int, weights: str = "none") -> nn.Module:
    """A torchvision ResNet with a fresh ``num_classes`` head.

    ``weights`` is ``imagenet`` (download via torchvision's cache) or ``none`` (random init).
    Raises WeightsUnavailableError with a hint when the download fails.
    """
    if arch not in ARCHS:
        raise ValueError("unknown arch {!r}; choose one of {}".format(arch, ", ".join(ARCHS)))
    if weights not in ("imagenet", "none"):
        raise ValueError("unknown weights {!r}; choose imagenet or none".format(weights))
    builder = getattr(torchvision.models, arch)
    enum = _weights_enum(arch)
    if weights == "none":
        model = builder(weights=None) if enum is not None else builder(pretrained=False)
    else:
        try:
            model = builder(weights=enum.DEFAULT) if enum is not None else builder(pretrained=True)
        except Exception as err:  # URLError, HTTPError, OSError, a truncated cache file...
            raise WeightsUnavailableError(
                "could not load ImageNet weights for {} ({}: {}). The machine may have no internet "
                "access. Train from scratch with `mlops train --hyperparameter weights=none` "
                "(training.hyperparameters.weights: none; `mlops train --local --cpu-sized` does that "
                "too), or put the file in the torch hub cache ($TORCH_HOME/hub/checkpoints)."
                .format(arch, type(err).__name__, err)
            ) from err
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


def backbone_parameters(model: nn.Module):
    """Every parameter except the classification head's."""
    return [p for name, p in model.named_parameters() if not name.startswith("fc.")]


def train_transform(image_size: int, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """Augmenting transform used for training (PIL image -> normalised tensor)."""
    return transforms.Compose([
        transforms.RandomResizedCrop(image_size, scale=TRAIN_SCALE, ratio=TRAIN_RATIO),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize(mean, std),
    ])


def eval_transform(image_size: int, mean=IMAGENET_MEAN, std=IMAGENET_STD):
    """Deterministic transform for validation, test and serving (the 256/224 resize ratio)."""
    return transforms.Compose([
        transforms.Resize(int(round(image_size * 256 / 224))),
        transforms.CenterCrop(image_size),
        transforms.ToTensor(),
        transforms.Normalize(mean, std),
    ])


def model_info(arch: str, num_classes: int, image_size: int, class_folders=None) -> dict:
    """What inference needs to rebuild the network and preprocess an image like training did."""
    info = {
        "arch": arch,
        "num_classes": num_classes,
        "image_size": image_size,
        "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD),
        "classes_file": CLASSES_FILE,
        "model_file": MODEL_FILE,
        "framework": "pytorch",
        "torch_version": torch.__version__.split("+")[0],
        "torchvision_version": torchvision.__version__.split("+")[0],
    }
    if class_folders is not None:
        info["class_folders"] = list(class_folders)
    return info


def classes_mapping(class_folders) -> dict:
    """``{"0": "Affenpinscher", ...}``: JSON object keys are strings, so the index is too."""
    return {str(i): display_name(folder) for i, folder in enumerate(class_folders)}


def read_classes(path: str) -> list:
    """classes.json as a list indexed by class; accepts the object form and a plain list."""
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if isinstance(data, list):
        return [str(x) for x in data]
    return [str(data[str(i)]) for i in range(len(data))]


def load_state(path: str, map_location="cpu"):
    """torch.load with weights_only where the torch version has it (1.13+): no pickled code runs."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except TypeError:  # torch < 1.13 has no weights_only
        return torch.load(path, map_location=map_location)


def write_json(path: str, data) -> None:
    """Write JSON atomically so a crash never leaves half a file behind."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)
