"""scripts/serve.py: the Ray Serve image's contract around the predictor class (deployment.py over inference.py), run
as a real subprocess on a free port against the session's trained tiny model."""
from __future__ import annotations

import base64
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO, SCRIPTS, clean_env, free_port


def _request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        res = conn.getresponse()
        return res.status, dict((k.lower(), v) for k, v in res.getheaders()), res.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def server(trained):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, os.path.join(SCRIPTS, "serve.py"), "--model-dir", trained["model_dir"], "--port", str(port),
         "--max-body-bytes", "100000", "--max-concurrency", "2"],
        env=clean_env(), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while True:
        try:
            if _request(port, "GET", "/ping")[0] == 200:
                break
        except OSError:
            pass
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() < deadline, "serve.py never answered /ping 200"
        time.sleep(0.2)
    yield {"port": port, "proc": proc}
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _image(dataset_root):
    split = os.path.join(dataset_root, "test")
    folder = sorted(os.listdir(split))[1]
    name = sorted(os.listdir(os.path.join(split, folder)))[0]
    with open(os.path.join(split, folder, name), "rb") as fh:
        return fh.read()


def test_invocations_answers_named_top_k(server, dataset):
    status, headers, body = _request(server["port"], "POST", "/invocations", _image(dataset.root),
                                     {"Content-Type": "image/jpeg"})
    assert status == 200 and headers["content-type"] == "application/json"
    answer = json.loads(body)
    assert answer["top_k"] == 3 and len(answer["predictions"]) == 3
    assert all(isinstance(p["label"], str) and p["label"] for p in answer["predictions"])


def test_runtime_path_takes_json_and_reports_the_variant(server, dataset):
    payload = json.dumps({"image": base64.b64encode(_image(dataset.root)).decode(), "top_k": 1})
    status, headers, body = _request(server["port"], "POST", "/endpoints/my-endpoint/invocations", payload,
                                     {"Content-Type": "application/json", "Accept": "application/json"})
    assert status == 200 and headers["x-amzn-invoked-production-variant"] == "AllTraffic"
    assert len(json.loads(body)["predictions"]) == 1
    # A request id on every answer, as SageMaker's runtime sends (the CLI refuses an answer without one).
    second = _request(server["port"], "POST", "/endpoints/my-endpoint/invocations", payload,
                      {"Content-Type": "application/json"})[1]
    assert re.fullmatch(r"[0-9a-f-]{36}", headers["x-amzn-requestid"])
    assert second["x-amzn-requestid"] != headers["x-amzn-requestid"]


@pytest.mark.parametrize("content_type,accept,body,status", [
    ("text/csv", "", b"1,2", 415),
    ("image/jpeg", "text/csv", None, 406),
    ("image/jpeg", "", b"not an image", 400),
])
def test_container_route_answers_the_handlers_status(server, dataset, content_type, accept, body, status):
    headers = {"Content-Type": content_type, **({"Accept": accept} if accept else {})}
    got, _, text = _request(server["port"], "POST", "/invocations", body or _image(dataset.root), headers)
    assert got == status, text


def test_runtime_route_wraps_handler_errors_as_model_error(server):
    status, headers, body = _request(server["port"], "POST", "/endpoints/my-endpoint/invocations", b"1,2",
                                     {"Content-Type": "text/csv"})
    assert status == 424 and headers["x-amzn-errortype"].startswith("ModelError:")
    doc = json.loads(body)
    assert doc["OriginalStatusCode"] == 415 and doc["ErrorCode"] == "CLIENT_ERROR_FROM_MODEL"
    assert "text/csv" in doc["OriginalMessage"]


def test_bounds_the_body_and_refuses_unknown_paths(server):
    assert _request(server["port"], "POST", "/invocations", b"x" * 100001, {"Content-Type": "image/jpeg"})[0] == 413
    assert _request(server["port"], "GET", "/nope")[0] == 404
    assert _request(server["port"], "POST", "/endpoints/bad_name!/invocations", b"x", {"Content-Type": "image/jpeg"})[0] == 404


def test_sigterm_stops_it_cleanly_with_one_log_line_per_request(server):
    proc = server["proc"]
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    lines = err.splitlines()
    assert any(l.startswith("POST /invocations 200 ") and l.endswith("ms") for l in lines), err
    assert any(l.startswith("POST /endpoints/my-endpoint/invocations 424 ") for l in lines), err
    assert lines[-1] == "stopped"


# --------------------------------------------------------------------------- issue 25: one predictor everywhere


def test_the_server_answers_through_deployment_py_and_batches(trained, dataset):
    """serve.py's own path in-process: the model's deployment.py class, real Starlette requests on one
    loop, two concurrent requests from two threads answered by one forward pass."""
    import threading

    import serve

    model = serve.Model(trained["model_dir"], {"max_batch_size": 2, "batch_wait_timeout_s": 2.0}, 60)
    try:
        model.load()
        assert model.ready.is_set(), model.failed
        assert type(model.instance).__module__ == "deployment" and type(model.instance).__name__ == "Predictor"
        # The bundled predictor by default; the model's own code/ only when trusted (issue 27).
        assert os.path.dirname(serve.find_predictor(trained["model_dir"])) == os.path.dirname(serve.__file__)
        assert os.path.dirname(serve.find_predictor(trained["model_dir"], trust_archive_code=True)) == os.path.join(
            trained["model_dir"], "code")
        image = _image(dataset.root)
        answers = [None, None]

        def call(i):
            answers[i] = model.invoke(image, {"Content-Type": "image/jpeg"})

        before = model.instance.forward_passes
        threads = [threading.Thread(target=call, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert model.instance.forward_passes == before + 1
        for status, ctype, body, _ in answers:
            assert status == 200 and ctype == "application/json" and json.loads(body)["top_k"] == 3
    finally:
        model.close()


FAKE_PREDICTOR = '''
import asyncio
from serve_compat import deployment
from starlette.responses import Response


@deployment
class Echo:
    async def __call__(self, request):
        body = await request.body()
        if body == b"slow":
            await asyncio.sleep(5)
        seen = {k: v for k, v in request.headers.items() if k != "content-length"}
        return Response(repr(sorted(seen.items())).encode(), status_code=299, media_type="application/x-echo",
                        headers={"X-Amzn-SageMaker-Custom-Attributes": "seen", "X-Other": "dropped"})


app = Echo.bind()
'''


@pytest.fixture(scope="module")
def echo_server(tmp_path_factory):
    """serve.py around a stand-in predictor at a model's root (where deploy puts deployment.py), trusted."""
    model_dir = tmp_path_factory.mktemp("echo-model")
    (model_dir / "deployment.py").write_text(FAKE_PREDICTOR)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, os.path.join(SCRIPTS, "serve.py"), "--model-dir", str(model_dir), "--port", str(port),
         "--trust-archive-code"],
        env=clean_env(RAYSERVE_BACKEND_TIMEOUT="1"), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    deadline = time.time() + 60
    while True:
        try:
            if _request(port, "GET", "/ping")[0] == 200:
                break
        except OSError:
            pass
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() < deadline, "serve.py never answered /ping 200"
        time.sleep(0.1)
    yield port
    proc.kill()
    proc.wait()


def test_adapter_semantics_pass_status_body_type_and_sagemaker_headers(echo_server):
    status, headers, body = _request(echo_server, "POST", "/invocations", b"hi", {
        "Content-Type": "image/png", "X-Amzn-SageMaker-Target-Model": "m1", "X-Private": "kept-out"})
    assert status == 299 and headers["content-type"] == "application/x-echo"
    assert headers["x-amzn-sagemaker-custom-attributes"] == "seen" and "x-other" not in headers
    # What reached the class: the body, Content-Type, Accept (defaulted) and X-Amzn-SageMaker-* only.
    assert body.decode() == repr(sorted({"content-type": "image/png", "accept": "application/json",
                                         "x-amzn-sagemaker-target-model": "m1"}.items()))
    _, _, defaulted = _request(echo_server, "POST", "/invocations", b"hi", {})
    assert "('content-type', 'application/json')" in defaulted.decode()


def test_backend_timeout_is_504(echo_server):
    started = time.time()
    status, headers, body = _request(echo_server, "POST", "/invocations", b"slow", {"Content-Type": "image/jpeg"})
    assert status == 504 and json.loads(body) == {"error": "Request timeout"}
    assert headers["content-type"] == "application/json" and time.time() - started < 4


def test_there_is_one_copy_of_the_prediction_logic():
    """Top-k, softmax and the decode guards live in inference.py; deployment.py (the predictor) calls
    them; serve.py only runs the deployment class. Nothing else in scripts/ predicts."""
    import re

    owners = {}
    for name in sorted(os.listdir(SCRIPTS)):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(SCRIPTS, name), encoding="utf-8") as fh:
            source = fh.read()
        for marker in (r"torch\.topk\(", r"torch\.softmax\(", r"def predict\w*\(", r"def decode_image\("):
            if re.search(marker, source):
                owners.setdefault(marker, []).append(name)
    assert owners == {
        r"torch\.topk\(": ["inference.py"],
        r"torch\.softmax\(": ["inference.py"],
        r"def predict\w*\(": ["deployment.py", "inference.py"],
        r"def decode_image\(": ["inference.py"],
    }
    with open(os.path.join(SCRIPTS, "deployment.py"), encoding="utf-8") as fh:
        predictor = fh.read()
    assert "inference.predict_batch," in predictor and "inference.input_fn," in predictor
    with open(os.path.join(SCRIPTS, "serve.py"), encoding="utf-8") as fh:
        server = fh.read()
    assert "import inference" not in server and "deployment.py" in server and "func_or_class" in server
