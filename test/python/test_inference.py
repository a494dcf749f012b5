"""The serving handler: every content type round-trips to named predictions; bad input is a
clear client error."""
import base64
import io
import json
import os

import pytest
from PIL import Image

import inference
import url_fetch
from conftest import REPO, clean_env, run_subprocess

BREEDS = {"Affenpinscher", "Afghan hound", "Airedale terrier"}


@pytest.fixture(scope="module")
def bundle(trained):
    return inference.model_fn(trained["model_dir"])


@pytest.fixture(scope="module")
def jpeg(dataset):
    path = os.path.join(dataset.test, "002.Afghan_hound", "002_0000.jpg")
    with open(path, "rb") as fh:
        return fh.read()


def _png(jpeg_bytes):
    buf = io.BytesIO()
    Image.open(io.BytesIO(jpeg_bytes)).convert("RGBA").save(buf, "PNG")
    return buf.getvalue()


def _serve(body, content_type, bundle, accept="application/json"):
    """input_fn -> predict_fn -> output_fn, as the container chains them."""
    text, content = inference.output_fn(inference.predict_fn(inference.input_fn(body, content_type), bundle), accept)
    assert content == "application/json"
    return json.loads(text)


def _check_shape(out, k):
    assert set(out) >= {"predictions", "top_k", "model"} and out["model"] == {"arch": "resnet18"}
    assert out["top_k"] == k == len(out["predictions"])
    for p in out["predictions"]:
        assert set(p) == {"label", "index", "probability"}
        assert p["label"] in BREEDS and 0 <= p["index"] < 3 and 0.0 <= p["probability"] <= 1.0
    probs = [p["probability"] for p in out["predictions"]]
    assert probs == sorted(probs, reverse=True)


@pytest.mark.parametrize("content_type", ["image/jpeg", "application/x-image", "image/jpeg; charset=binary"])
def test_image_bytes_round_trip(bundle, jpeg, content_type):
    out = _serve(jpeg, content_type, bundle)
    _check_shape(out, 3)  # default top 5, capped at the 3 classes
    assert "logits" not in out
    assert abs(sum(p["probability"] for p in out["predictions"]) - 1.0) < 1e-4


def test_png_with_alpha_round_trip(bundle, jpeg):
    out = _serve(_png(jpeg), "image/png", bundle)
    _check_shape(out, 3)


def test_json_base64_with_top_k_and_logits(bundle, jpeg):
    body = json.dumps({"image": base64.b64encode(jpeg).decode(), "top_k": 2, "logits": True})
    out = _serve(body, "application/json", bundle, accept="*/*")
    _check_shape(out, 2)
    assert len(out["logits"]) == 3 and all(isinstance(x, float) for x in out["logits"])
    best = max(range(3), key=lambda i: out["logits"][i])
    assert out["predictions"][0]["index"] == best
    # The toolkit hands application/json bodies over as str; bytes and data: URIs work too.
    data_uri = json.dumps({"image": "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()}).encode()
    _check_shape(_serve(data_uri, "application/json", bundle, accept=None), 3)


def test_model_predicts_the_right_breed(bundle, dataset):
    right = 0
    folders = sorted(os.listdir(dataset.test))
    for index, folder in enumerate(folders):
        for name in sorted(os.listdir(os.path.join(dataset.test, folder))):
            with open(os.path.join(dataset.test, folder, name), "rb") as fh:
                out = _serve(fh.read(), "image/jpeg", bundle)
            right += out["predictions"][0]["index"] == index
    assert right / 18 >= 0.6


def test_json_url_is_fetched_through_the_guard(bundle, jpeg, monkeypatch):
    original = url_fetch.fetch_url

    def public_resolver(host, port, *args):
        return [(2, 1, 6, "", ("93.184.216.34", port))]

    class Conn:
        def __init__(self, *args):
            pass

        def request(self, method, target, headers):
            assert target == "/dog.jpg?size=large"

        def getresponse(self):
            return FakeResponse(200, jpeg)

        def close(self):
            pass

    monkeypatch.setattr(url_fetch, "fetch_url",
                        lambda url, policy: original(url, policy, resolver=public_resolver, connect=Conn))
    out = _serve(json.dumps({"url": "https://images.example.com/dog.jpg?size=large", "top_k": 1}),
                 "application/json", bundle)
    _check_shape(out, 1)


class FakeResponse:
    def __init__(self, status, body=b"", headers=None):
        self.status, self._body, self._headers = status, io.BytesIO(body), headers or {}

    def getheader(self, name, default=None):
        return self._headers.get(name, default)

    def read(self, n=-1):
        return self._body.read(n)


@pytest.mark.parametrize("body,content_type,status,message", [
    (b"not an image", "image/jpeg", 400, "not a readable image"),
    (b"", "image/png", 400, "empty"),
    ("{", "application/json", 400, "not valid JSON"),
    ("[1, 2]", "application/json", 400, "exactly one of"),
    ('{"url": "https://a", "image": "x"}', "application/json", 400, "exactly one of"),
    ('{"image": "@@@"}', "application/json", 400, "not valid base64"),
    ('{"image": "aGVsbG8="}', "application/json", 400, "not a readable image"),
    ('{"image": "aGVsbG8=", "top_k": 0}', "application/json", 400, "top_k"),
    ('{"image": "aGVsbG8=", "top_k": "3"}', "application/json", 400, "top_k"),
    ('{"image": "aGVsbG8=", "logits": "yes"}', "application/json", 400, "logits"),
    ('{"url": "http://example.com/dog.jpg"}', "application/json", 400, "only https"),
    ('{"url": "https://169.254.169.254/latest/meta-data/"}', "application/json", 400, "link-local"),
    ('{"url": "https://127.0.0.1/dog.jpg"}', "application/json", 400, "loopback"),
    (b"a,b", "text/csv", 415, "not supported"),
    (b"x", None, 415, "not supported"),
])
def test_bad_input_is_a_client_error(body, content_type, status, message):
    with pytest.raises(inference.InferenceError) as info:
        inference.input_fn(body, content_type)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.status_code == status and message in str(err) and message in err.message
    assert err.phrase in ("Bad Request", "Unsupported Media Type")


def test_unsupported_accept_is_406(bundle, jpeg):
    prediction = inference.predict_fn(inference.input_fn(jpeg, "image/jpeg"), bundle)
    with pytest.raises(inference.NotAcceptable) as info:
        inference.output_fn(prediction, "text/csv")
    assert info.value.status_code == 406
    for accept in ("application/json", "application/json; charset=utf-8", "*/*", "", None, "text/html, */*"):
        assert inference.output_fn(prediction, accept)[1] == "application/json"


def test_decompression_bomb_is_refused(monkeypatch):
    monkeypatch.setattr(inference, "MAX_PIXELS", 100)
    buf = io.BytesIO()
    Image.new("RGB", (20, 20)).save(buf, "PNG")
    with pytest.raises(inference.InferenceError, match="more than 100 pixels"):
        inference.decode_image(buf.getvalue())


def test_packaged_code_dir_serves_on_its_own(trained):
    """What the container does: code/ on the path, nothing from scripts/; the sample asset."""
    code_dir = os.path.join(trained["model_dir"], "code")
    script = (
        "import json, inference\n"
        "b = inference.model_fn({model!r})\n"
        "data = open({sample!r}, 'rb').read()\n"
        "text, ctype = inference.output_fn(inference.predict_fn(inference.input_fn(data, 'image/jpeg'), b), '*/*')\n"
        "print(ctype); print(text)\n"
        "import model_def; assert model_def.__file__.startswith({code!r}), model_def.__file__\n"
    ).format(model=trained["model_dir"], sample=os.path.join(REPO, "assets", "sample.jpg"), code=code_dir)
    r = run_subprocess(["-c", script], clean_env(PYTHONPATH=code_dir), timeout=120, cwd=code_dir)
    assert r.code == 0, r.stderr
    ctype, text = r.stdout.splitlines()[:2]
    assert ctype == "application/json"
    out = json.loads(text)
    assert [p["label"] in BREEDS for p in out["predictions"]] == [True] * 3


def test_errors_carry_the_serving_toolkit_status(monkeypatch):
    """Inside the container the errors derive from sagemaker_inference's BaseInferenceToolkitError,
    which its Transformer turns into the HTTP status instead of a 500. Load the handler against a
    stand-in of that module (same constructor) to check the class combination works."""
    import importlib.util
    import sys
    import types

    class BaseInferenceToolkitError(Exception):
        def __init__(self, status_code, message, phrase):
            self.status_code, self.message, self.phrase = status_code, message, phrase
            super(BaseInferenceToolkitError, self).__init__(status_code, message, phrase)

    errors = types.ModuleType("sagemaker_inference.errors")
    errors.BaseInferenceToolkitError = BaseInferenceToolkitError
    package = types.ModuleType("sagemaker_inference")
    package.errors = errors
    monkeypatch.setitem(sys.modules, "sagemaker_inference", package)
    monkeypatch.setitem(sys.modules, "sagemaker_inference.errors", errors)
    spec = importlib.util.spec_from_file_location("inference_in_container", inference.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(BaseInferenceToolkitError) as info:
        module.input_fn(b"x", "text/plain")
    assert isinstance(info.value, ValueError)
    assert (info.value.status_code, info.value.phrase) == (415, "Unsupported Media Type")
    assert str(info.value).startswith("Content-Type 'text/plain' is not supported")
    with pytest.raises(BaseInferenceToolkitError) as info:
        module.input_fn(b"garbage", "image/jpeg")
    assert info.value.status_code == 400 and "not a readable image" in info.value.message


def _photo(width, height, **save):
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (120, 80, 40)).save(buf, "JPEG", **save)
    return buf.getvalue()


def test_a_large_jpeg_is_decoded_at_reduced_scale_when_the_resize_allows():
    """issue 30: draft decoding down to the short side the model resizes to (256 for 224), never below."""
    photo = _photo(3000, 4000)
    assert inference.decode_image(photo, 224).size == (375, 500)  # 1/8: 375 >= 256
    assert inference.decode_image(_photo(1000, 750), 224).size == (500, 375)  # 1/2: 1/4 would give 187 < 256
    assert inference.decode_image(_photo(500, 400), 224).size == (500, 400)  # 1/2 would be under 256
    assert inference.decode_image(photo).size == (3000, 4000)  # no model size known: full decode
    # Rotated by EXIF: upright, at the same reduced scale.
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees
    assert inference.decode_image(_photo(4000, 3000, exif=exif.tobytes()), 224).size == (375, 500)



def test_the_model_runs_frozen_channels_last_on_every_core(trained, monkeypatch):
    import torch

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MLOPS_TORCH_THREADS", raising=False)
    # The fp32 path: on a CPU with native bf16 the trained model's record would pick eager bf16 (test_bf16.py).
    monkeypatch.setenv("MLOPS_BF16", "off")
    before = torch.get_num_threads()
    try:
        bundle = inference.model_fn(trained["model_dir"])
        assert bundle["threads"] == len(os.sched_getaffinity(0)) == torch.get_num_threads()
        assert isinstance(bundle["model"], torch.jit.ScriptModule)  # frozen, batch norm folded
        monkeypatch.setenv("MLOPS_TORCH_THREADS", "1")
        monkeypatch.setenv("MLOPS_TORCHSCRIPT", "0")
        eager = inference.model_fn(trained["model_dir"])
        assert eager["threads"] == 1
        conv = eager["model"].conv1.weight
        assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
        # The frozen network answers as the eager one does (float rounding apart).
        image = Image.new("RGB", (40, 40), (200, 120, 30))
        request = {"image": image, "top_k": 3, "logits": True}
        frozen_logits = inference.predict_batch([request], bundle)[0]["logits"]
        eager_logits = inference.predict_batch([request], eager)[0]["logits"]
        assert max(abs(a - b) for a, b in zip(frozen_logits, eager_logits)) < 1e-3
    finally:
        torch.set_num_threads(before)


def test_batch_tensor_is_the_per_image_transform_bit_for_bit_and_channels_last():
    import numpy as np
    import torch
    from torchvision import transforms

    import model_def

    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for w, h in ((500, 375), (300, 300), (224, 400), (1000, 750))]
    transform = model_def.eval_transform(224, mean=[0.5, 0.4, 0.3], std=[0.2, 0.25, 0.3])
    batch = inference.batch_tensor(images, transform)
    assert torch.equal(batch, torch.stack([transform(image) for image in images]))
    assert batch.dtype == torch.float32 and batch.is_contiguous(memory_format=torch.channels_last)
    # A transform of another shape is applied as it is, image by image.
    other = transforms.Compose([transforms.Resize((32, 32)), transforms.ToTensor()])
    assert torch.equal(inference.batch_tensor(images, other), torch.stack([other(image) for image in images]))
