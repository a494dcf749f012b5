"""How good a model is on a folder of images, and what it predicts for each file: the one copy.

train.py calls evaluate_model() on the test split at the end of training (evaluation.json beside
metrics.json in the output data dir, so it travels in the job's output.tar.gz); ``mlops evaluate``
and ``mlops predict`` run this file as a script on any model folder and image folder. Every
prediction goes through inference.predict_batch, the predictor the endpoint and ``mlops serve`` run.

    python evaluation.py evaluate --model-dir DIR --data FOLDER --output evaluation.json
    python evaluation.py predict --model-dir DIR --data FOLDER [--top-k 5] [--skip FILE]

``predict`` writes one JSON line per image on stdout, as soon as its batch is done:
    {"file": "003.Airedale_terrier/a.jpg", "label": "Airedale terrier", "predictions": [...]}
    {"file": "x.jpg", "label": null, "error": "the body is not a readable image ..."}
``label`` is the true class when the folder is labelled (one sub-folder per class), else null.
Progress goes to stderr as ``progress done=N total=M`` lines.
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import os
import random
import sys
import time

import torch

try:
    import inference
    import model_def
except ImportError:  # loaded by file path
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import inference
    import model_def

EVALUATION_FILE = "evaluation.json"
DEFAULT_BATCH = 32
DEFAULT_WORST = 12
THUMBNAIL_PX = 96


def list_images(root: str) -> list:
    """``[(relative path, absolute path, true label or None)]`` sorted. A folder with class
    sub-folders is labelled (the label is the folder's display name, as classes.json has it)."""
    if not os.path.isdir(root):
        raise FileNotFoundError("image folder not found: {}".format(root))
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or not name.lower().endswith(model_def.IMAGE_EXTENSIONS):
                continue
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            folder = rel.split("/")[0] if "/" in rel else None
            found.append((rel, full, model_def.display_name(folder) if folder else None))
    return sorted(found)


def through_predictor(bundle: dict, files: list, top_k: int, batch_size: int = DEFAULT_BATCH, on_progress=None):
    """Yields ``(file tuple, result or None, error or None)`` per file, batch by batch, through
    inference.predict_batch. An unreadable image is an error row, not a failed run."""
    done = 0
    for start in range(0, len(files), batch_size):
        batch = files[start:start + batch_size]
        requests, ok, out = [], [], []
        for item in batch:
            try:
                with open(item[1], "rb") as fh:
                    image = inference.decode_image(fh.read())
                requests.append({"image": image, "top_k": top_k, "logits": False})
                ok.append(item)
            except (OSError, inference.InferenceError) as err:
                out.append((item, None, str(err)))
        for item, result in zip(ok, inference.predict_batch(requests, bundle)):
            out.append((item, result, None))
        for row in sorted(out, key=lambda r: r[0][0]):
            yield row
        done += len(batch)
        if on_progress:
            on_progress(done, len(files))


def thumbnail(path: str, px: int = THUMBNAIL_PX) -> str:
    """A small JPEG data URI (the report embeds it; no file links that break when moved)."""
    try:
        with open(path, "rb") as fh:
            img = inference.decode_image(fh.read())
        img.thumbnail((px, px))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=70)
        return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    except Exception:  # a thumbnail is decoration: never fail the evaluation for one
        return ""


def summarize(rows: list, classes: list, worst: int = DEFAULT_WORST, split: str = "") -> dict:
    """Per-class precision/recall/support, the confusion matrix (rows true, columns predicted,
    class index order), top-1/top-5 and the worst-classified files (lowest probability given to
    the true class) from ``[(file tuple, result, error)]`` of a labelled folder."""
    index = {name: i for i, name in enumerate(classes)}
    n = len(classes)
    confusion = [[0] * n for _ in range(n)]
    top1 = top5 = images = 0
    unknown, errors, scored = [], [], []
    for (rel, full, label), result, error in rows:
        if error is not None:
            errors.append({"file": rel, "error": error})
            continue
        if label not in index:
            unknown.append(rel)
            continue
        preds = result["predictions"]
        truth = index[label]
        predicted = preds[0]["index"]
        confusion[truth][predicted] += 1
        images += 1
        top1 += predicted == truth
        top5 += any(p["index"] == truth for p in preds[:5])
        true_p = next((p["probability"] for p in preds if p["index"] == truth), 0.0)
        scored.append((true_p, rel, full, label, preds[0]))
    per_class = []
    for i, name in enumerate(classes):
        tp = confusion[i][i]
        support = sum(confusion[i])
        predicted = sum(row[i] for row in confusion)
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append({"label": name, "index": i, "precision": round(precision, 4), "recall": round(recall, 4),
                          "f1": round(f1, 4), "support": support, "predicted": predicted})
    wrong = sorted((s for s in scored if s[4]["label"] != s[3]), key=lambda s: (s[0], s[1]))[:worst]
    return {
        "split": split,
        "images": images,
        "top1_accuracy": round(top1 / images, 6) if images else 0.0,
        "top5_accuracy": round(top5 / images, 6) if images else 0.0,
        "classes": list(classes),
        "per_class": per_class,
        "confusion": confusion,
        "worst": [{"file": rel, "true": label, "predicted": top["label"], "confidence": top["probability"],
                   "true_probability": round(true_p, 6), "thumbnail": thumbnail(full)}
                  for true_p, rel, full, label, top in wrong],
        "unreadable": errors,
        "unknown_labels": unknown[:50],
    }


def evaluate_model(bundle: dict, folder: str, split: str = "", batch_size: int = DEFAULT_BATCH,
                   worst: int = DEFAULT_WORST, on_progress=None) -> dict:
    """The evaluation of ``bundle`` (inference.model_fn's shape) on a labelled folder."""
    start = time.perf_counter()
    files = list_images(folder)
    rows = list(through_predictor(bundle, files, len(bundle["classes"]), batch_size, on_progress))
    result = summarize(rows, bundle["classes"], worst, split)
    result["seconds"] = round(time.perf_counter() - start, 3)
    return result


BF16_CHECK_BATCH = 16  # the time limit is checked between batches: small ones overshoot it little


def sample(items: list, count: int, seed: int = 0) -> list:
    """``count`` items in a fixed random order (all of them when ``count`` is 0), so a capped check,
    or one cut short by its time limit, sees a sample of every class rather than the first folders."""
    shuffled = list(items)
    random.Random(seed).shuffle(shuffled)
    return shuffled[:count] if count else shuffled


def _bf16_answers(requests: list, bundle: dict) -> list:
    """predict_batch under bf16 autocast. On a CPU without AVX-512 (a g5's EPYC, a p3's Xeon) torch
    1.13's oneDNN has no bf16 convolution and raises; ATen's own kernels then compute the same bf16
    rounding, slowly, so the accuracy check still runs wherever the model trained."""
    if not bundle.get("without_onednn"):
        try:
            return inference.predict_batch(requests, bundle)
        except RuntimeError:
            bundle["without_onednn"] = True
    with torch.backends.mkldnn.flags(enabled=False):
        return inference.predict_batch(requests, bundle)


def check_bf16(model, classes: list, folder: str, image_size: int, max_images: int, max_seconds: float = 0,
               batch_size: int = BF16_CHECK_BATCH, clock=time.perf_counter) -> dict:
    """Top-1 of ``model`` (on the CPU) on at most ``max_images`` labelled images of ``folder`` (0: all),
    in fp32 and under bf16 autocast, each image decoded and transformed as the predictor does
    (inference.decode_image with the model's size, inference.predict_batch). No new batch starts
    after ``max_seconds`` (0: no limit): a ResNet-50 at 224 px on 2 cores takes about 25 ms an image
    in fp32 and, in bf16, 14 ms with native bf16, 60 ms with AVX-512 but no bf16 (oneDNN emulates
    it) and 2 s with AVX2 alone (ATen's kernels). The record the predictor's bf16 gate reads from
    model-info.json (inference.choose_cpu_bf16): ``{"images", "top1_fp32", "top1_bf16", "same_top1",
    "within_half_point", "time_limited", "seconds"}``; within half a point either way, counted in
    whole images (|fp32 hits - bf16 hits| x 200 <= images). It runs as the predictor does:
    channels-last (``model`` is converted in place) on the predictor's threads (restored after)."""
    threads = torch.get_num_threads()
    inference.configure_threads()
    try:
        return _bf16_top1(model.to(memory_format=torch.channels_last).eval(), classes, folder, image_size,
                          max_images, max_seconds, batch_size, clock)
    finally:
        torch.set_num_threads(threads)


def _bf16_top1(model, classes, folder, image_size, max_images, max_seconds, batch_size, clock) -> dict:
    """check_bf16's measurement, on a model and threads already set up as the predictor's."""
    start = clock()
    names = [model_def.display_name(c) for c in classes]
    index = {name: i for i, name in enumerate(names)}
    files = sample([f for f in list_images(folder) if f[2] in index], max_images)
    device = torch.device("cpu")
    fp32 = {"model": model, "classes": names, "arch": "", "device": device,
            "transform": model_def.eval_transform(image_size)}
    bf16 = dict(fp32, autocast_dtype=torch.bfloat16)
    images = hits_fp32 = hits_bf16 = same = 0
    time_limited = False
    for first in range(0, len(files), batch_size):
        if max_seconds and images and clock() - start >= max_seconds:
            time_limited = True
            break
        requests, truths = [], []
        for _, path, label in files[first:first + batch_size]:
            try:
                with open(path, "rb") as fh:
                    image = inference.decode_image(fh.read(), image_size)
                requests.append({"image": image, "top_k": 1, "logits": False})
                truths.append(index[label])
            except (OSError, inference.InferenceError):  # unreadable: the evaluation lists it; not counted here
                continue
        if not requests:
            continue
        for truth, a, b in zip(truths, inference.predict_batch(requests, fp32), _bf16_answers(requests, bf16)):
            a, b = a["predictions"][0]["index"], b["predictions"][0]["index"]
            images += 1
            hits_fp32 += a == truth
            hits_bf16 += b == truth
            same += a == b
    return {
        "images": images,
        "top1_fp32": round(hits_fp32 / images, 6) if images else 0.0,
        "top1_bf16": round(hits_bf16 / images, 6) if images else 0.0,
        "same_top1": round(same / images, 6) if images else 0.0,
        "within_half_point": images > 0 and abs(hits_fp32 - hits_bf16) * 200 <= images,
        "time_limited": time_limited,
        "seconds": round(clock() - start, 3),
    }


def write_evaluation(path: str, evaluation: dict) -> str:
    """Write then rename, so a reader never sees half a file."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(evaluation, fh, indent=1)
        fh.write("\n")
    os.replace(tmp, path)
    return path


def _progress(done: int, total: int) -> None:
    print("progress done={} total={}".format(done, total), file=sys.stderr, flush=True)


def _load_skip(path: str) -> set:
    if not path:
        return set()
    with open(path, encoding="utf-8") as fh:
        return {line.rstrip("\n") for line in fh if line.strip()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Evaluate a model on a labelled folder, or predict every image in a folder.")
    p.add_argument("mode", choices=("evaluate", "predict"))
    p.add_argument("--model-dir", required=True, help="model.pth, model-info.json and classes.json")
    p.add_argument("--data", required=True, help="a folder of images (labelled: one sub-folder per class)")
    p.add_argument("--output", default="", help="evaluate: where evaluation.json goes (default: stdout)")
    p.add_argument("--split", default="", help="evaluate: the split's name, recorded in the result")
    p.add_argument("--top-k", type=int, default=5, help="predict: classes per file")
    p.add_argument("--skip", default="", help="predict: a file listing relative paths already predicted")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH)
    p.add_argument("--worst", type=int, default=DEFAULT_WORST)
    args = p.parse_args(argv)
    try:
        bundle = inference.model_fn(args.model_dir)
        if args.mode == "evaluate":
            evaluation = evaluate_model(bundle, args.data, args.split, args.batch_size, args.worst, _progress)
            if args.output:
                write_evaluation(args.output, evaluation)
            else:
                print(json.dumps(evaluation), flush=True)
            return 0
        skip = _load_skip(args.skip)
        files = [f for f in list_images(args.data) if f[0] not in skip]
        _progress(0, len(files))
        for (rel, _, label), result, error in through_predictor(bundle, files, args.top_k, args.batch_size, _progress):
            row = {"file": rel, "label": label}
            row.update({"error": error} if error is not None else {"predictions": result["predictions"]})
            print(json.dumps(row), flush=True)
        return 0
    except (FileNotFoundError, ValueError) as err:
        print("error: {}".format(err), file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
