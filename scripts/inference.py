"""The prediction logic (the one copy): named dog-breed predictions from an image.

deployment.py (the Ray Serve deployment on the endpoint, the same class behind ``mlops serve``)
imports it; the functions keep the SageMaker handler shape (model_fn, input_fn, predict_fn /
predict_batch, output_fn). It needs model_def.py and url_fetch.py beside it (train.py writes them
into the model dir's code/, deploy puts them next to deployment.py at the archive root).

Requests
    image/jpeg, image/png, application/x-image (any image/*, and application/octet-stream):
        the image bytes; top-5.
    application/json:
        {"url": "https://..."} or {"image": "<base64, data: URI prefix allowed>"},
        optional "top_k" (int >= 1, default 5, capped at the number of classes) and
        "logits" (bool, default false). URLs are fetched with url_fetch's SSRF guard.
Response (application/json only; Accept */* or empty also gets JSON)
    {"predictions": [{"label": "Affenpinscher", "index": 0, "probability": 0.93}, ...],
     "top_k": 5, "model": {"arch": "resnet50"}}
    plus "logits": [...] (one per class, in index order) when the request asked for them.

Speed on CPU (model_fn). Torch gets as many threads as the process has cores (MLOPS_TORCH_THREADS or
OMP_NUM_THREADS win), the network runs channels-last under inference_mode, as frozen TorchScript
(MLOPS_TORCHSCRIPT=0 keeps it eager), and in bf16 autocast (eager: a graph frozen in fp32 ignores
autocast) only when both hold: the CPU has native bf16 (avx512_bf16 or amx_bf16 in /proc/cpuinfo;
elsewhere bf16 is 2.5x slower than fp32, or fails) and model-info.json's "bf16" record, written by
train.py's check on the test split, found top-1 within 0.5 points of fp32. MLOPS_BF16=auto (default),
on (skips the CPU check, never the record) or off. A GPU stays fp32. model_fn logs the choice once,
e.g. ``bf16: off (CPU has no avx512_bf16/amx_bf16)``; the reply is the same either way.

Errors. Bad input raises an InferenceError, a ValueError subclass whose message says what was
wrong. When the serving toolkit is installed the class also derives from its
BaseInferenceToolkitError, so the container answers with the error's status instead of 500:
400 bad input (bad JSON, not an image or not in ALLOWED_FORMATS, malformed, refused or failed URL), 415 unsupported Content-Type,
406 unsupported Accept. The response body starts with that message on its first line; the
toolkit appends its traceback after it, which clients should not show. Anything else (a bug, a
broken model file) stays a 500.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import io
import json
import math
import os
import re
import sys

import numpy as np
import torch
from PIL import Image, ImageOps
from torchvision import transforms

try:
    import model_def
    import url_fetch
except ImportError:  # loaded by file path: the sibling modules sit next to this file
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import model_def
    import url_fetch

DEFAULT_TOP_K = 5
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 40-megapixel photo is plenty; beyond that is a decompression bomb
#: Longest side over shortest side. Panoramas are about 4:1; a 1x20000 strip (157 bytes as a PNG) is
#: no photo, and its resize to the model's short side would allocate gigabytes (issue 27).
MAX_ASPECT_RATIO = 20
#: Pixels of the image once resized for the model (short side to the model's resize size), before
#: the centre crop: bounds the one allocation the pixel limit above does not.
MAX_RESIZED_PIXELS = 16 * 1024 * 1024
JSON_TYPE = "application/json"
IMAGE_TYPES = ("application/x-image", "application/octet-stream")
#: The PIL decoders a request may reach. Never EPS/PS-like formats: PIL hands those to
#: Ghostscript, an interpreter no one should feed untrusted input. (JPEG's opener also returns
#: the multi-picture JPEGs phones write.) Filtered to what this Pillow build registers.
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")


def _open_formats() -> list:
    Image.init()
    return [f for f in ALLOWED_FORMATS if f in Image.OPEN]

try:
    from sagemaker_inference.errors import BaseInferenceToolkitError as _ToolkitError
except ImportError:  # outside the serving container (tests, a laptop)
    class _ToolkitError(Exception):
        def __init__(self, status_code, message, phrase):
            self.status_code, self.message, self.phrase = status_code, message, phrase
            super().__init__(status_code, message, phrase)


class InferenceError(ValueError, _ToolkitError):
    """Bad input: a client error with an HTTP status, a reason phrase and a readable message."""

    status = 400
    reason = "Bad Request"

    def __init__(self, message: str):
        _ToolkitError.__init__(self, self.status, message, self.reason)

    def __str__(self):
        return self.message


class UnsupportedContentType(InferenceError):
    status = 415
    reason = "Unsupported Media Type"


class NotAcceptable(InferenceError):
    status = 406
    reason = "Not Acceptable"


# --------------------------------------------------------------------------- model


def model_file_path(model_dir: str, info: dict, field: str, default: str) -> str:
    """The file ``info[field]`` names, which must lie inside ``model_dir``: a relative path with no
    way out (no absolute path, no ``..``, no symbolic link leading outside). An archive that names
    /etc/passwd.json or ../../secrets.json as its classes file must not get it served as labels."""
    name = info.get(field, default)
    if not isinstance(name, str) or not name or "\0" in name:
        raise ValueError("model-info.json: {} must be a file name inside the model folder, got {}".format(
            field, json.dumps(name)))
    if os.path.isabs(name) or ".." in name.replace("\\", "/").split("/"):
        raise ValueError("model-info.json: {} {!r} points outside the model folder; name a file inside it "
                         "(for example {!r})".format(field, name, default))
    root = os.path.realpath(model_dir)
    path = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([root, path]) != root:
        raise ValueError("model-info.json: {} {!r} leads outside the model folder (a symbolic link?); "
                         "name a file inside it".format(field, name))
    return path


def configure_threads() -> int:
    """Torch's intra-op threads = the cores this process may run on (its CPU affinity: a container's
    or taskset's share, not the host's count), so one batch's forward pass uses every core; the
    batching gives it whole batches to spread. OMP_NUM_THREADS (or MLOPS_TORCH_THREADS), when set,
    wins. Some builds start with 1 thread whatever the core count (Debian's torch here)."""
    wanted = os.environ.get("MLOPS_TORCH_THREADS") or os.environ.get("OMP_NUM_THREADS")
    try:
        count = int(wanted) if wanted else len(os.sched_getaffinity(0))
    except (ValueError, AttributeError):  # no sched_getaffinity (macOS) or a malformed value
        count = os.cpu_count() or 1
    torch.set_num_threads(max(1, count))
    return torch.get_num_threads()


#: /proc/cpuinfo flags of the x86 instructions that do bf16 arithmetic natively (AVX-512 BF16 on Cooper
#: Lake, Sapphire Rapids and AMD Zen 4 on; AMX on Sapphire Rapids on). Without them oneDNN emulates bf16
#: with AVX-512 (a ResNet-50 2.5x slower than fp32) and, with AVX2 alone, torch 1.13 has no bf16 convolution.
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
BF16_ENV = "MLOPS_BF16"
BF16_MODES = ("auto", "on", "off")


def cpu_flags(path: str = "/proc/cpuinfo") -> frozenset:
    """The CPU's feature flags from Linux's /proc/cpuinfo (the first processor's ``flags`` line);
    empty where there is no such file (macOS, Windows) or it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() == "flags":
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def bf16_record_ok(info: dict) -> bool:
    """Whether model-info.json carries the training run's bf16 check (train.py's --bf16-check-images)
    and it found top-1 on the test split within half a point of fp32."""
    record = info.get("bf16")
    return (isinstance(record, dict) and record.get("within_half_point") is True
            and isinstance(record.get("images"), int) and record["images"] > 0)


def choose_cpu_bf16(device_type: str, info: dict, mode=None, flags=None):
    """(use bf16 autocast, why) for the predictor: on CPU only, and only when the CPU has native
    bf16 (``flags``, default: this machine's /proc/cpuinfo) AND model-info.json's bf16 record says
    top-1 held. ``mode`` (default $MLOPS_BF16): auto; on skips the CPU check (a CPU whose flags
    cannot be read, or a measurement) but never the accuracy record, since nothing else tells that
    bf16 keeps this model's answers; off. A GPU keeps fp32 whatever the mode."""
    if device_type != "cpu":
        return False, "off (fp32 on {})".format(device_type)
    raw = os.environ.get(BF16_ENV, "auto") if mode is None else mode
    mode = str(raw).strip().lower() or "auto"
    if mode not in BF16_MODES:
        return False, "off ({}={!r} is not one of {})".format(BF16_ENV, raw, ", ".join(BF16_MODES))
    if mode == "off":
        return False, "off ({}=off)".format(BF16_ENV)
    native = [f for f in CPU_BF16_FLAGS if f in (cpu_flags() if flags is None else flags)]
    if mode == "auto" and not native:
        return False, "off (CPU has no {})".format("/".join(CPU_BF16_FLAGS))
    record = info.get("bf16")
    if not bf16_record_ok(info):
        if not isinstance(record, dict):
            why = "model-info.json has no bf16 record: train with --bf16-check-images > 0 and a test split"
        else:
            why = ("the training run's check found top-1 {} fp32 vs {} bf16 on {} test images, not within 0.5 "
                   "points").format(record.get("top1_fp32"), record.get("top1_bf16"), record.get("images"))
        return False, "off ({})".format(why)
    held = "top-1 {} fp32 vs {} bf16 on {} test images".format(
        record["top1_fp32"], record["top1_bf16"], record["images"])
    if mode == "on":
        return True, "on ({}=on; {})".format(BF16_ENV, held)
    return True, "on (CPU has {}; {})".format("/".join(native), held)


def bf16_failure(model, device, image_size: int):
    """None when one forward pass under bf16 autocast works, else what failed. MLOPS_BF16=on on a CPU
    without AVX-512 needs it: torch 1.13's oneDNN has no bf16 convolution there and every request
    would be a 500 (RuntimeError: could not create a primitive descriptor iterator)."""
    example = torch.zeros(1, 3, image_size, image_size, device=device).contiguous(memory_format=torch.channels_last)
    try:
        with torch.inference_mode(), torch.autocast(device_type=device.type, dtype=torch.bfloat16):
            model(example)
    except Exception as err:  # whatever the kernels raise: serve fp32 rather than fail every request
        return "{}: {}".format(type(err).__name__, str(err).splitlines()[0] if str(err) else "")
    return None


def freeze_for_cpu(model, image_size: int):
    """The network as frozen TorchScript optimised for inference on CPU: batch norm folded into the
    convolutions, convolution and ReLU fused, weights prepacked for oneDNN; the same arithmetic up to
    float rounding. MLOPS_TORCHSCRIPT=0 keeps the eager module, and so does a model that cannot be traced."""
    if os.environ.get("MLOPS_TORCHSCRIPT", "1") == "0":
        return model
    example = torch.zeros(1, 3, image_size, image_size).contiguous(memory_format=torch.channels_last)
    try:
        with torch.no_grad():
            return torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(model, example)))
    except Exception as err:  # an exotic layer: serve eagerly rather than not at all
        print("warning: serving the model eagerly, TorchScript failed ({}: {})".format(type(err).__name__, err),
              file=sys.stderr)
        return model


def model_fn(model_dir: str) -> dict:
    """Rebuild the network from model-info.json and load model.pth (state_dict)."""
    with open(os.path.join(model_dir, model_def.MODEL_INFO_FILE), encoding="utf-8") as fh:
        info = json.load(fh)
    classes_path = model_file_path(model_dir, info, "classes_file", model_def.CLASSES_FILE)
    weights_path = model_file_path(model_dir, info, "model_file", model_def.MODEL_FILE)
    classes = model_def.read_classes(classes_path)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    threads = configure_threads()
    model = model_def.build_model(info["arch"], int(info["num_classes"]), weights="none")
    state = model_def.load_state(weights_path, device)
    model.load_state_dict(state)
    # channels-last: oneDNN's (and cuDNN's) convolutions read NHWC without reordering every layer.
    model.to(device, memory_format=torch.channels_last).eval()
    bf16, why = choose_cpu_bf16(device.type, info)
    failure = bf16_failure(model, device, int(info["image_size"])) if bf16 else None
    if failure:
        bf16, why = False, "off ({}, but a bf16 forward pass fails here: {})".format(why[len("on ("):-1], failure)
    print("bf16: " + why, file=sys.stderr, flush=True)
    # A model frozen in fp32 ignores autocast (its graph has no casts to make), so with bf16 the
    # module stays eager and runs under autocast: faster than the frozen fp32 graph where bf16 is native.
    if device.type == "cpu" and not bf16:
        model = freeze_for_cpu(model, int(info["image_size"]))
    return {
        "model": model,
        "classes": classes,
        "arch": info["arch"],
        "device": device,
        "threads": threads,
        "image_size": int(info["image_size"]),
        "autocast_dtype": torch.bfloat16 if bf16 else None,
        "transform": model_def.eval_transform(int(info["image_size"]), info.get("mean", model_def.IMAGENET_MEAN),
                                              info.get("std", model_def.IMAGENET_STD)),
    }


# --------------------------------------------------------------------------- input


def _media_type(header) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def resize_short_side(image_size: int) -> int:
    """The short side eval_transform resizes to (the 256/224 ratio of model_def.eval_transform)."""
    return int(round(image_size * 256 / 224))


def check_dimensions(width: int, height: int, image_size=None) -> None:
    """Refuse, from the header's dimensions alone, an image whose decode or resize would cost far
    more than its bytes: too many pixels, a strip (aspect ratio), or a resized size over the bound."""
    if width < 1 or height < 1:
        raise InferenceError("the image has no pixels ({}x{})".format(width, height))
    if width * height > MAX_PIXELS:
        raise InferenceError("the image has more than {} pixels".format(MAX_PIXELS))
    long_side, short_side = max(width, height), min(width, height)
    if long_side > short_side * MAX_ASPECT_RATIO:
        raise InferenceError("the image is {}x{}: more than {}:1 between its sides; send a photo, not a strip".format(
            width, height, MAX_ASPECT_RATIO))
    if image_size:
        short = resize_short_side(int(image_size))
        resized = short * -(-long_side * short // short_side)  # the long side rounded up, as a bound
        if resized > MAX_RESIZED_PIXELS:
            raise InferenceError("the image is {}x{}: resized for the model it would have {} pixels (limit {})".format(
                width, height, resized, MAX_RESIZED_PIXELS))


def draft_jpeg(img: Image.Image, short: int) -> None:
    """Let the JPEG decoder scale by 1/2, 1/4 or 1/8 (PIL's draft: DCT scaling, no full-size pixels)
    as far as the short side stays at least ``short``, the size the model's transform resizes it to:
    a 3000x4000 phone photo decodes at 375x500, 64x fewer pixels to decode and to resize. Called after
    the header check, before anything is loaded; the training pipeline draws its crops the same way."""
    shrink = min(img.size) / short
    if shrink >= 2:
        img.draft("RGB", (int(math.ceil(img.size[0] / shrink)), int(math.ceil(img.size[1] / shrink))))


def decode_image(data: bytes, image_size=None) -> Image.Image:
    """Bytes -> RGB image, upright per EXIF; anything unreadable is a 400. The dimensions are
    checked from the header before a single pixel is decoded (check_dimensions)."""
    if not data:
        raise InferenceError("the image is empty")
    if len(data) > MAX_IMAGE_BYTES:
        raise InferenceError("the image is larger than {} bytes".format(MAX_IMAGE_BYTES))
    try:
        img = Image.open(io.BytesIO(data), formats=_open_formats())
        width, height = img.width, img.height
    except Exception as err:  # PIL raises many types for garbage input
        raise InferenceError("the body is not a readable image in an accepted format ({}; {})".format(
            ", ".join(_open_formats()), type(err).__name__)) from err
    check_dimensions(width, height, image_size)
    if image_size and img.format in ("JPEG", "MPO"):
        draft_jpeg(img, resize_short_side(int(image_size)))
    try:
        # EXIF before load(): Pillow 9.x closes a multi-page TIFF's file on load, and getexif() then
        # fails (AttributeError), so a valid TIFF was a 400. exif_transpose loads the first page.
        img = ImageOps.exif_transpose(img)
        img.load()
        return img.convert("RGB")
    except Exception as err:
        raise InferenceError("the image could not be decoded ({})".format(type(err).__name__)) from err


def _top_k(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InferenceError('"top_k" must be a whole number of at least 1, got {}'.format(json.dumps(value)))
    return value


def _decode_base64(text) -> bytes:
    if not isinstance(text, str) or not text:
        raise InferenceError('"image" must be a non-empty base64 string')
    text = re.sub(r"^data:[^,]*;base64,", "", text.strip())
    if len(text) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise InferenceError("the image is larger than {} bytes".format(MAX_IMAGE_BYTES))
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as err:
        raise InferenceError('"image" is not valid base64') from err


def parse_json_request(body, fetch=None, image_size=None) -> dict:
    """{"url"|"image", "top_k"?, "logits"?} -> request dict."""
    if isinstance(body, (bytes, bytearray)):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError as err:
            raise InferenceError("the JSON body is not UTF-8") from err
    try:
        payload = json.loads(body)
    except ValueError as err:
        raise InferenceError("the body is not valid JSON: {}".format(err)) from err
    except RecursionError as err:  # [[[[...]]]] thousands deep: the parser's stack, not a server fault
        raise InferenceError("the JSON body is nested too deeply") from err
    if not isinstance(payload, dict) or ("url" in payload) == ("image" in payload):
        raise InferenceError('send a JSON object with exactly one of {"url": "https://..."} or {"image": "<base64>"}')
    logits = payload.get("logits", False)
    if not isinstance(logits, bool):
        raise InferenceError('"logits" must be true or false')
    top_k = _top_k(payload.get("top_k", DEFAULT_TOP_K))
    if "image" in payload:
        data = _decode_base64(payload["image"])
    else:
        fetch = fetch or (lambda url: url_fetch.fetch_url(url, url_fetch.policy_from_env()))
        try:
            data = fetch(payload["url"])
        except (url_fetch.FetchRefused, url_fetch.FetchFailed) as err:
            raise InferenceError("cannot use the image URL: {}".format(err)) from err
        except ValueError as err:  # any other unparsable URL is still the caller's mistake, not a 500
            raise InferenceError("cannot use the image URL: malformed URL ({})".format(err)) from err
    return {"image": decode_image(data, image_size), "top_k": top_k, "logits": logits}


def input_fn(request_body, request_content_type, image_size=None):
    """Deserialize a request into {"image": PIL.Image, "top_k": int, "logits": bool}. ``image_size``
    (the model's, from the bundle) bounds the resize as well as the decode."""
    media = _media_type(request_content_type)
    if media == JSON_TYPE:
        return parse_json_request(request_body, image_size=image_size)
    if media.startswith("image/") or media in IMAGE_TYPES:
        if isinstance(request_body, str):  # bytes expected; a str here means it was text all along
            raise InferenceError("send the image as binary bytes, or as base64 in a JSON body")
        return {"image": decode_image(bytes(request_body), image_size), "top_k": DEFAULT_TOP_K, "logits": False}
    raise UnsupportedContentType(
        "Content-Type {!r} is not supported; use image/jpeg, image/png, application/x-image or "
        "application/json".format(request_content_type))


# --------------------------------------------------------------------------- predict / output


def autocast_for(bundle: dict):
    """bf16 autocast where model_fn chose it (choose_cpu_bf16), else nothing: fp32 as trained."""
    dtype = bundle.get("autocast_dtype")
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=bundle["device"].type, dtype=dtype)


def batch_tensor(images: list, transform):
    """torch.stack([transform(image) for image in images]), bit for bit, with the transform's ToTensor
    and Normalize done once for the stacked batch, in numpy, instead of as torch ops per image. Those
    are small parallel torch ops; on a busy CPU (request threads decoding beside the forward pass)
    each parallel region waits for a core, and they cost 12-19 ms an image instead of 1.2. The
    geometric steps (Resize, CenterCrop) stay PIL's, per image. The batch comes out channels-last
    (an NCHW view of NHWC memory), the layout the model reads. Any other transform is applied as is."""
    steps = getattr(transform, "transforms", None)
    if not steps or len(steps) < 2 or type(steps[-2]) is not transforms.ToTensor or type(steps[-1]) is not transforms.Normalize:
        return torch.stack([transform(image) for image in images])
    arrays = []
    for image in images:
        for step in steps[:-2]:
            image = step(image)
        arrays.append(np.asarray(image.convert("RGB"), dtype=np.uint8))
    normalize = steps[-1]
    mean = np.asarray(normalize.mean, dtype=np.float32)
    std = np.asarray(normalize.std, dtype=np.float32)
    # ToTensor's arithmetic (float32, then / 255) and Normalize's ((x - mean) / std), in float32 in numpy:
    # IEEE-rounded the same, and single-threaded, so no parallel region waits for a busy core.
    batch = np.stack(arrays).astype(np.float32)
    batch /= np.float32(255)
    batch -= mean
    batch /= std
    return torch.from_numpy(batch).permute(0, 3, 1, 2)


def predict_batch(requests: list, bundle: dict) -> list:
    """Top-k classes by name with softmax probabilities (and the raw logits when asked), for many
    decoded requests in ONE forward pass: the Ray Serve deployment's ``@serve.batch`` hands a batch
    here, and predict_fn is a batch of one. The only copy of the prediction logic."""
    if not requests:
        return []
    tensor = batch_tensor([r["image"] for r in requests], bundle["transform"])
    tensor = tensor.to(bundle["device"], memory_format=torch.channels_last)
    with torch.inference_mode(), autocast_for(bundle):  # inference_mode: no autograd records at all
        all_logits = bundle["model"](tensor).float().cpu()
    results = []
    for request, logits in zip(requests, all_logits):
        probabilities = torch.softmax(logits, dim=0)
        k = min(request["top_k"], len(bundle["classes"]))
        top = torch.topk(probabilities, k)
        result = {
            "predictions": [
                {"label": bundle["classes"][i], "index": i, "probability": round(float(p), 6)}
                for p, i in zip(top.values.tolist(), top.indices.tolist())
            ],
            "top_k": k,
            "model": {"arch": bundle["arch"]},
        }
        if request.get("logits"):
            result["logits"] = [round(float(x), 6) for x in logits.tolist()]
        results.append(result)
    return results


def predict_fn(request: dict, bundle: dict) -> dict:
    """One request: a batch of one through predict_batch."""
    return predict_batch([request], bundle)[0]


def output_fn(prediction: dict, accept):
    """JSON, with the content type the toolkit should send (a tuple it understands)."""
    wanted = [_media_type(a) for a in str(accept or "").split(",")]
    if not any(w in ("", "*/*", "application/*", JSON_TYPE) for w in wanted):
        raise NotAcceptable("Accept {!r} is not supported; this endpoint answers application/json".format(accept))
    return json.dumps(prediction), JSON_TYPE
