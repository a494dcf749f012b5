"""scripts/serve.py: the SageMaker inference container's contract around code/inference.py, run
as a real subprocess on a free port against the session's trained tiny model."""
from __future__ import annotations

import base64
import http.client
import json
import os
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
