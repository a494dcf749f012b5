"""`npm run bench:serve`: the local model server against a seed-style handler, same machine, same weights,
one run (issue 30 item 1). run.ts finds a Python with torch and runs this file with it.

    bench.py [--scale 1] [--images 6] [--label after]

1. Once (kept in bench-out/serve/): a ResNet-50 with random weights (seed 0, batch-norm statistics
   taken from a few of the test images) and a head fitted like a trained one: ridge regression from
   each test image's features (the seed-style preprocessing) to a class of its own, so every image
   has a clear top-1 as a trained model's photos do (a random head's near ties, margins of 0.0005,
   flip on any resampling and make the top-1 comparison meaningless), and the bf16 record train.py
   writes (evaluation.check_bf16 over these images), so the local server's bf16 gate decides for it as
   for a trained model: bf16 autocast on a CPU with native bf16, fp32 elsewhere (MLOPS_BF16=off forces
   fp32; the header says which ran). Saved the way train.py saves a
   model (train_artifacts.save_model: model.pth, classes.json with 133 classes, model-info.json,
   code/); phone-sized JPEGs: --images each of 3000x4000 (~1-3 MB) and 1000x750, smooth noise with
   grain, a different tint per image.
2. Starts both servers: scripts/serve.py with the arguments `mlops serve` gives it
   (src/features/local/serve.ts: --exit-with-parent, --predictor scripts/deployment.py, the config's
   default batching 8 / 10 ms and its default --max-concurrency, two batches: 16) and seed_server.py.
3. Sends every image once to each (sequentially, also the warm-up) and compares top-1 answers, then
   for each size and each concurrency (1, 4, 8) drives one server, then the other, with a fixed number
   of requests (keep-alive connections, one per client), and prints images/s, images/s per core,
   p50 and p99 side by side, the local server's batch sizes (MLOPS_PREDICTOR_LOG=debug) and whether
   issue 30's goal holds. Figures also go to bench-out/serve/results-<time>.json.
"""
from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCRIPTS = os.path.join(ROOT, "scripts")
OUT = os.path.join(ROOT, "bench-out", "serve")
SIZES = ((3000, 4000), (1000, 750))
CONCURRENCY = (1, 4, 8)
#: Requests per cell at --scale 1: a few seconds each on a 2-core machine, the whole run under 5 minutes.
REQUESTS = {1: 8, 4: 16, 8: 24}
NUM_CLASSES = 133
BATCH_LINE = re.compile(r"^batch of (\d+)\b")


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- fixtures (made once)


def make_images(count: int) -> dict:
    """{(w, h): [jpeg bytes, ...]}: smooth noise in three octaves plus grain, a tint per image."""
    import numpy as np
    from PIL import Image

    folder = os.path.join(OUT, "images")
    os.makedirs(folder, exist_ok=True)
    images = {}
    for width, height in SIZES:
        images[(width, height)] = []
        for n in range(count):
            path = os.path.join(folder, "{}x{}-{}.jpg".format(width, height, n))
            if not os.path.exists(path):
                rng = np.random.default_rng(1000 * n + width)
                canvas = np.zeros((height, width, 3), np.float32)
                for cells, amplitude in ((6, 90.0), (40, 40.0), (250, 18.0)):
                    small = rng.normal(0, 1, (max(2, height * cells // max(width, height)), cells, 3))
                    layer = Image.fromarray(((small - small.min()) / (np.ptp(small) + 1e-9) * 255).astype(np.uint8))
                    canvas += (np.asarray(layer.resize((width, height), Image.BICUBIC), np.float32) - 128) * amplitude / 128
                canvas += rng.uniform(60, 200, 3).astype(np.float32)  # the tint
                canvas += rng.normal(0, 5, canvas.shape).astype(np.float32)  # sensor grain
                Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=90)
            with open(path, "rb") as fh:
                images[(width, height)].append(fh.read())
    return images


def make_model(images: dict) -> str:
    """A ResNet-50 folder as train.py writes it: random convolutions; the batch-norm running statistics
    set from the test images (one train-mode pass, no gradient) so that the network is not constant;
    the head fitted to give every test image its own class (fit_head)."""
    model_dir = os.path.join(OUT, "model-resnet50-fitted-head-bf16-checked")
    if os.path.exists(os.path.join(model_dir, "model-info.json")):
        return model_dir
    sys.path.insert(0, SCRIPTS)
    import torch
    from PIL import Image
    import io
    import model_def
    import train_artifacts

    torch.manual_seed(0)
    model = model_def.build_model("resnet50", NUM_CLASSES, weights="none")
    transform = model_def.eval_transform(224)
    every = [data for group in images.values() for data in group]
    batch = torch.stack([transform(Image.open(io.BytesIO(data)).convert("RGB")) for data in every])
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # a cumulative average: one pass sets the statistics
    model.train()
    with torch.no_grad():
        model(batch[[i for i in range(len(every)) if i % len(images[SIZES[0]]) < 4]])
    model.eval()
    classes = target_classes(len(every))
    fit_head(model, batch, classes)
    folders = ["{:03d}.Breed_{:03d}".format(i + 1, i + 1) for i in range(NUM_CLASSES)]
    record = bf16_record(model, every, classes, folders)
    log("bf16 check on the test images: top-1 {top1_fp32} fp32, {top1_bf16} bf16, {images} images".format(**record))
    train_artifacts.save_model(model_dir, train_artifacts.cpu_state(model), folders, "resnet50", 224, {"bf16": record})
    return model_dir


def bf16_record(model, every: list, classes: list, folders: list) -> dict:
    """The bf16 record train.py writes into model-info.json (evaluation.check_bf16: top-1 in fp32 and
    under bf16 autocast, through the predictor's decoding), here over the benchmark's own test images
    laid out as a test split, so the predictor's bf16 gate decides for this model as for a trained one."""
    import copy
    import shutil

    import evaluation

    split = os.path.join(OUT, "test-split")
    shutil.rmtree(split, ignore_errors=True)
    for n, (data, cls) in enumerate(zip(every, classes)):
        os.makedirs(os.path.join(split, folders[cls]), exist_ok=True)
        with open(os.path.join(split, folders[cls], "{:02d}.jpg".format(n)), "wb") as fh:
            fh.write(data)
    return evaluation.check_bf16(copy.deepcopy(model), folders, split, 224, 0)  # a copy: it turns channels-last


def target_classes(count: int) -> list:
    """A distinct class per test image, spread over the 133 (image i: class 11 i mod 133)."""
    return [(11 * i) % NUM_CLASSES for i in range(count)]


def fit_head(model, batch, classes: list, margin: float = 8.0, ridge: float = 1e-2) -> None:
    """Sets model.fc so that image i scores `margin` for classes[i] and 0 for the other classes: ridge
    regression on the centred, scaled pooled features (closed form; a linear probe trained on these
    images). The ridge keeps the weights small, so the few-percent pixel differences between decoders
    move a logit by far less than the margin."""
    import torch

    head = model.fc
    model.fc = torch.nn.Identity()
    with torch.no_grad():
        features = model(batch).double()
    model.fc = head
    mean = features.mean(0, keepdim=True)
    scale = (features - mean).norm(dim=1).mean()
    x = (features - mean) / scale
    targets = torch.zeros(len(classes), NUM_CLASSES, dtype=torch.float64)
    targets[torch.arange(len(classes)), torch.tensor(classes)] = margin
    gram = x @ x.T + ridge * torch.eye(len(classes), dtype=torch.float64)
    weight = (x.T @ torch.linalg.solve(gram, targets)).T / scale  # (classes, features)
    with torch.no_grad():
        head.weight.copy_(weight.float())
        head.bias.copy_((-(weight @ mean.T).squeeze(1)).float())


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, name: str, argv: list, port: int, cwd: str, log_path: str, env=None):
        self.name, self.port, self.log_path = name, port, log_path
        self.log_file = open(log_path, "w", encoding="utf-8")
        self.proc = subprocess.Popen(argv, cwd=cwd, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("{} exited {}: see {}".format(self.name, self.proc.returncode, self.log_path))
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/ping")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError("{} did not answer /ping within {}s".format(self.name, timeout))

    def log_size(self) -> int:
        self.log_file.flush()
        return os.path.getsize(self.log_path)

    def log_since(self, offset: int) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as fh:
            fh.seek(offset)
            return fh.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()


def post(conn: http.client.HTTPConnection, body: bytes) -> dict:
    conn.request("POST", "/invocations", body=body, headers={"Content-Type": "image/jpeg", "Accept": "application/json"})
    res = conn.getresponse()
    data = res.read()
    if res.status != 200:
        raise RuntimeError("HTTP {}: {}".format(res.status, data[:200].decode("utf-8", "replace")))
    return json.loads(data)


def top1(answer: dict) -> int:
    return int(answer["predictions"][0]["index"])


def margin(answer: dict) -> float:
    """How far the first class is ahead of the second (probabilities): a near tie flips on any resampling."""
    first, second = answer["predictions"][:2]
    return float(first["probability"]) - float(second["probability"])


def drive(port: int, images: list, concurrency: int, requests: int) -> dict:
    """``requests`` POSTs over ``concurrency`` keep-alive connections; latencies in ms, wall time."""
    lock = threading.Lock()
    state = {"next": 0, "errors": 0, "error": None}
    latencies = []

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        try:
            while True:
                with lock:
                    index = state["next"]
                    if index >= requests:
                        return
                    state["next"] += 1
                started = time.perf_counter()
                try:
                    post(conn, images[index % len(images)])
                except Exception as err:  # counted and shown; the cell goes on
                    with lock:
                        state["errors"] += 1
                        state["error"] = str(err)
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
                    continue
                with lock:
                    latencies.append((time.perf_counter() - started) * 1000)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    latencies.sort()

    def pct(p):
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(round(p / 100 * (len(latencies) - 1))))]

    ok = len(latencies)
    return {"requests": requests, "ok": ok, "errors": state["errors"], "lastError": state["error"], "wallS": wall,
            "imagesPerS": ok / wall, "imagesPerSPerCore": ok / wall / cores(), "p50Ms": pct(50), "p99Ms": pct(99)}


# --------------------------------------------------------------------------- main


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", type=float, default=1.0, help="multiplies the requests per cell (8/16/24 at c1/c4/c8)")
    p.add_argument("--images", type=int, default=6, help="distinct images of each size")
    p.add_argument("--label", default="", help="a name for this run in the results file")
    p.add_argument("--seed-threads", type=int, default=0,
                   help="torch threads for the seed-style handler (default: torch's own default, as a seed handler has)")
    args = p.parse_args(argv)
    os.makedirs(OUT, exist_ok=True)
    began = time.time()
    load_before = os.getloadavg()
    log("preparing images and the model in {} (once)".format(OUT))
    images = make_images(args.images)
    model_dir = make_model(images)

    py = sys.executable
    local_port, seed_port = free_port(), free_port()
    local = Server("local server (scripts/serve.py)", [
        py, os.path.join(SCRIPTS, "serve.py"), "--model-dir", model_dir, "--port", str(local_port), "--exit-with-parent",
        "--predictor", os.path.join(SCRIPTS, "deployment.py"), "--max-concurrency", "16", "--max-body-bytes", "6291456",
        "--max-batch-size", "8", "--batch-wait-ms", "10"], local_port, model_dir, os.path.join(OUT, "local-server.log"),
        env={"MLOPS_PREDICTOR_LOG": "debug"})
    seed = Server("seed-style handler", [py, os.path.join(HERE, "seed_server.py"), "--model-dir", model_dir,
                                         "--port", str(seed_port)] + (["--threads", str(args.seed_threads)] if args.seed_threads else []),
                  seed_port, model_dir,
                  os.path.join(OUT, "seed-server.log"))
    servers = {"seed": seed, "local": local}
    results = {"label": args.label, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "machine": "{} ({} cores, {})".format(platform.node(), cores(), cpu_name()), "cores": cores(),
               "seedThreads": args.seed_threads or "torch default",
               "loadBefore": [round(x, 2) for x in load_before], "cells": [], "agreement": None}
    try:
        for server in servers.values():
            server.wait_ready()
        decision = [line for line in local.log_since(0).splitlines() if line.startswith("bf16: ")]
        results["localBf16"] = decision[0][len("bf16: "):] if decision else "not logged"
        # Every image once through each server, one at a time: the warm-up, and the top-1 comparison.
        answers = {name: [] for name in servers}
        margins = []
        for name, server in servers.items():
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
            for size in SIZES:
                for data in images[size]:
                    answer = post(conn, data)
                    answers[name].append(top1(answer))
                    if name == "seed":
                        margins.append(margin(answer))
            conn.close()
        same = sum(a == b for a, b in zip(answers["seed"], answers["local"]))
        results["agreement"] = {
            "same": same, "total": len(answers["seed"]), "seedTop1": answers["seed"], "localTop1": answers["local"],
            "distinctClasses": len(set(answers["seed"])), "seedMargins": [round(m, 5) for m in margins],
            "differing": [{"image": i, "seed": a, "local": b, "seedMargin": round(margins[i], 5)}
                          for i, (a, b) in enumerate(zip(answers["seed"], answers["local"])) if a != b]}
        for size in SIZES:
            for concurrency in CONCURRENCY:
                requests = max(concurrency, int(round(REQUESTS[concurrency] * args.scale)))
                cell = {"size": "{}x{}".format(*size), "concurrency": concurrency}
                for name, server in servers.items():
                    log("{} {} c={} ({} requests)".format(name, cell["size"], concurrency, requests))
                    offset = server.log_size()
                    cell[name] = drive(server.port, images[size], concurrency, requests)
                    if name == "local":
                        sizes = [int(m.group(1)) for line in server.log_since(offset).splitlines()
                                 for m in [BATCH_LINE.match(line)] if m]
                        cell[name]["batches"] = sizes
                results["cells"].append(cell)
    finally:
        for server in servers.values():
            server.stop()
    results["loadAfter"] = [round(x, 2) for x in os.getloadavg()]
    results["wallS"] = round(time.time() - began, 1)
    print(render(results))
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = os.path.join(OUT, "results-{}.json".format(stamp))
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(results, fh, indent=2)
    log("results: {}".format(os.path.relpath(path, ROOT)))
    return 0


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def render(results: dict) -> str:
    lines = ["serving benchmark{}: {} | {} | seed threads: {} | load {} -> {} | {} s".format(
        " (" + results["label"] + ")" if results["label"] else "", results["date"], results["machine"], results["seedThreads"],
        " ".join(map(str, results["loadBefore"])), " ".join(map(str, results["loadAfter"])), results["wallS"]),
        "local server's bf16: {} (seed-style: fp32)".format(results.get("localBf16", "not logged")), ""]
    head = ("| image | conc | seed img/s | seed img/s/core | seed p50 ms | seed p99 ms | local img/s | local img/s/core "
            "| local p50 ms | local p99 ms | per-core ratio | local batches |")
    lines += [head, "|" + "---|" * 12]
    for cell in results["cells"]:
        s, l = cell["seed"], cell["local"]
        batches = l.get("batches") or []
        lines.append("| {} | {} | {:.2f} | {:.2f} | {:.0f} | {:.0f} | {:.2f} | {:.2f} | {:.0f} | {:.0f} | {:.2f}x | {} |".format(
            cell["size"], cell["concurrency"], s["imagesPerS"], s["imagesPerSPerCore"], s["p50Ms"], s["p99Ms"],
            l["imagesPerS"], l["imagesPerSPerCore"], l["p50Ms"], l["p99Ms"],
            l["imagesPerSPerCore"] / s["imagesPerSPerCore"] if s["imagesPerSPerCore"] else float("nan"),
            "mean {:.1f}, max {}".format(sum(batches) / len(batches), max(batches)) if batches else "-"))
        for name in ("seed", "local"):
            if cell[name]["errors"]:
                lines.append("  {} errors at {} c={}: {} (last: {})".format(
                    cell[name]["errors"], cell["size"], cell["concurrency"], name, cell[name]["lastError"]))
    agreement = results["agreement"]
    lines += ["", "top-1 agreement, local server vs seed-style: {}/{} images ({} distinct classes among the seed's answers)"
              .format(agreement["same"], agreement["total"], agreement["distinctClasses"])]
    if agreement["differing"]:
        lines.append("  differing: {}; the seed's top-1 leads by {} (smallest margin among all images: {})".format(
            ", ".join("image {image} seed {seed} local {local}".format(**d) for d in agreement["differing"]),
            ", ".join(str(d["seedMargin"]) for d in agreement["differing"]), min(agreement["seedMargins"])))
    by = {(c["size"], c["concurrency"]): c for c in results["cells"]}
    lines.append("goal (issue 30): local img/s per core at c=8 >= 2x the seed's, and p99 no worse than the seed's p99 at c=1")
    for width, height in SIZES:
        size = "{}x{}".format(width, height)
        c8, c1 = by[(size, 8)], by[(size, 1)]
        ratio = c8["local"]["imagesPerSPerCore"] / c8["seed"]["imagesPerSPerCore"]
        lines.append("  {}: {:.2f}x at c=8 ({}); local p99 at c=1 {:.0f} ms vs seed {:.0f} ms ({}); local p99 at c=8 {:.0f} ms "
                     "vs seed p99 at c=1 {:.0f} ms ({})".format(
                         size, ratio, "met" if ratio >= 2 else "NOT met", c1["local"]["p99Ms"], c1["seed"]["p99Ms"],
                         "met" if c1["local"]["p99Ms"] <= c1["seed"]["p99Ms"] else "NOT met", c8["local"]["p99Ms"],
                         c1["seed"]["p99Ms"], "met" if c8["local"]["p99Ms"] <= c1["seed"]["p99Ms"] else "NOT met"))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
