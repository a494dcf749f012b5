"""Issue 27, the model server: the work per request is bounded from the image header, model files stay
inside the model folder, archive code runs only when asked, idle connections are closed, what a client
sends is escaped in the log, Expect: 100-continue gets the refusal, deep JSON is a 400, and the server
dies with the process that started it."""
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import zlib
import struct

import pytest

from conftest import REPO, SCRIPTS, clean_env, free_port

import inference  # noqa: E402  (conftest puts scripts/ on the path)
import serve  # noqa: E402


def strip_png(width: int, height: int) -> bytes:
    """A valid grey PNG of width x height whose rows are all zero: a few hundred bytes for any size."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = (b"\0" + b"\0" * width) * height
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


# --------------------------------------------------------------------------- bounds from the header


def test_a_1x20000_png_is_refused_from_its_header():
    data = strip_png(1, 20000)
    assert len(data) < 300
    with pytest.raises(inference.InferenceError, match=r"1x20000: more than 20:1"):
        inference.decode_image(data)
    with pytest.raises(inference.InferenceError, match=r"20000x1"):
        inference.input_fn(strip_png(20000, 1), "image/png")


def test_the_resized_size_is_bounded_before_decoding(monkeypatch):
    monkeypatch.setattr(inference, "MAX_RESIZED_PIXELS", 100_000)
    data = strip_png(40, 400)  # 10:1 passes the ratio; at image size 224 it resizes to 256x2560
    assert inference.decode_image(data).size == (40, 400)  # no model size: only the ratio applies
    with pytest.raises(inference.InferenceError, match=r"resized for the model it would have 655360 pixels"):
        inference.input_fn(data, "image/png", 224)


def test_deeply_nested_json_is_a_400_not_a_500():
    with pytest.raises(inference.InferenceError, match="nested too deeply") as info:
        inference.input_fn("[" * 100_000 + "]" * 100_000, "application/json")
    assert info.value.status_code == 400


# --------------------------------------------------------------------------- model files inside the model folder


@pytest.fixture()
def model_copy(trained, tmp_path):
    root = tmp_path / "model"
    shutil.copytree(trained["model_dir"], root)
    return root


def _set_info(root, **fields):
    info_path = root / "model-info.json"
    info = json.loads(info_path.read_text())
    info.update(fields)
    info_path.write_text(json.dumps(info))


@pytest.mark.parametrize("field", ["classes_file", "model_file"])
def test_model_info_cannot_name_files_outside_the_model_folder(model_copy, tmp_path, field):
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps(["root:x:0:0", "aws_secret_access_key=..."]))
    for name, why in ((str(secret), "points outside"), ("../secret.json", "points outside")):
        _set_info(model_copy, **{field: name})
        with pytest.raises(ValueError, match=why):
            inference.model_fn(str(model_copy))
    os.symlink(str(secret), str(model_copy / "link.json"))
    _set_info(model_copy, **{field: "link.json"})
    with pytest.raises(ValueError, match="leads outside the model folder"):
        inference.model_fn(str(model_copy))


def test_a_file_inside_the_model_folder_still_works(model_copy):
    os.makedirs(model_copy / "meta")
    shutil.copy(model_copy / "classes.json", model_copy / "meta" / "labels.json")
    _set_info(model_copy, classes_file="meta/labels.json")
    assert len(inference.model_fn(str(model_copy))["classes"]) == 3


# --------------------------------------------------------------------------- the archive's own code


MARKER_PREDICTOR = '''
import os
open(os.environ["MARKER"], "w").write("archive code ran")
from serve_compat import deployment


@deployment
class Evil:
    async def __call__(self, request):
        return b"evil"


app = Evil.bind()
'''


def test_archive_code_runs_only_when_trusted(model_copy, tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    monkeypatch.setenv("MARKER", str(marker))
    (model_copy / "deployment.py").write_text(MARKER_PREDICTOR)
    os.makedirs(model_copy / "code", exist_ok=True)
    (model_copy / "code" / "deployment.py").write_text(MARKER_PREDICTOR)
    assert serve.find_predictor(str(model_copy)) == os.path.join(SCRIPTS, "deployment.py")
    project = tmp_path / "project"
    project.mkdir()
    (project / "deployment.py").write_text("# the project's\n")
    assert serve.find_predictor(str(model_copy), predictor=str(project / "deployment.py")) == str(
        project / "deployment.py")
    assert serve.find_predictor(str(model_copy), trust_archive_code=True) == str(model_copy / "deployment.py")
    model = serve.Model(str(model_copy), {}, 60)
    try:
        model.load()
        assert model.ready.is_set(), model.failed
        assert not marker.exists()
        assert os.path.dirname(sys.modules[type(model.instance).__module__].__file__) == SCRIPTS
    finally:
        model.close()


# --------------------------------------------------------------------------- the HTTP server


def _start(model_dir, *extra, parent=None):
    port = free_port()
    argv = [sys.executable, os.path.join(SCRIPTS, "serve.py"), "--model-dir", str(model_dir), "--port", str(port),
            "--max-body-bytes", "100000", *extra]
    proc = subprocess.Popen(argv, env=clean_env(), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            pass
        assert proc.poll() is None, proc.stderr.read()
        assert time.time() < deadline, "serve.py never listened"
        time.sleep(0.1)
    return port, proc


@pytest.fixture(scope="module")
def server(trained):
    port, proc = _start(trained["model_dir"], "--idle-timeout", "1")
    yield {"port": port, "proc": proc}
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _raw(port, data: bytes, read_timeout=10.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as s:
        s.sendall(data)
        s.settimeout(read_timeout)
        return s.recv(65536)


def test_an_oversize_body_with_expect_100_continue_gets_the_413_not_100(server):
    head = (b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 5000000\r\n"
            b"Expect: 100-continue\r\n\r\n")
    answer = _raw(server["port"], head)
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert b"100 Continue" not in answer
    small = head.replace(b"5000000", b"3")
    assert _raw(server["port"], small).startswith(b"HTTP/1.1 100 Continue")


def test_an_idle_connection_is_closed(server):
    with socket.create_connection(("127.0.0.1", server["port"]), timeout=10) as s:
        started = time.time()
        assert s.recv(1) == b""  # closed by the server, nothing sent
        assert time.time() - started < 5


def test_a_strip_png_and_deep_json_are_400s_over_http(server):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=30)
    deadline = time.time() + 60
    while True:  # the model loads in the background
        conn.request("GET", "/ping")
        res = conn.getresponse()
        res.read()
        if res.status == 200:
            break
        assert time.time() < deadline
        time.sleep(0.2)
    conn.request("POST", "/invocations", body=strip_png(1, 20000), headers={"Content-Type": "image/png"})
    res = conn.getresponse()
    assert res.status == 400 and b"more than 20:1" in res.read()
    conn.request("POST", "/invocations", body="[" * 50_000 + "]" * 50_000, headers={"Content-Type": "application/json"})
    res = conn.getresponse()
    assert res.status == 400 and b"nested too deeply" in res.read()
    conn.close()


def test_the_log_escapes_what_the_client_sent(server):
    _raw(server["port"], b"GET /\x1b[2J\x1b]0;pwned\x07 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    proc = server["proc"]
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert "\x1b" not in err and "\x07" not in err
    assert "GET /\\x1b[2J\\x1b]0;pwned\\x07 404 " in err


# --------------------------------------------------------------------------- dies with its parent


PARENT = """
import subprocess, sys, time
child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(child.pid, flush=True)
time.sleep(600)
"""


def test_the_server_dies_with_a_parent_killed_by_sigkill(tmp_path):
    port = free_port()
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, sys.executable, os.path.join(SCRIPTS, "serve.py"), "--model-dir", str(tmp_path),
         "--port", str(port), "--exit-with-parent"],
        env=clean_env(), cwd=REPO, stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    deadline = time.time() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            assert time.time() < deadline, "serve.py never listened"
            time.sleep(0.1)
    parent.kill()
    parent.wait()
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        with open("/proc/{}/stat".format(child)) as fh:  # reaped by init soon; a zombie counts as gone
            if fh.read().split(") ", 1)[1].startswith("Z"):
                break
        time.sleep(0.1)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("serve.py outlived its parent")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_connections_beyond_the_cap_get_503_and_are_closed(tmp_path):
    port, proc = _start(tmp_path, "--max-connections", "2", "--idle-timeout", "30")
    held = []
    try:
        time.sleep(0.5)  # the probe connection of _start has been closed and released
        for _ in range(2):
            held.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        time.sleep(0.3)
        answer = _raw(port, b"")
        assert answer.startswith(b"HTTP/1.1 503 ") and b"too many open connections" in answer
        held.pop().close()
        time.sleep(0.5)
        # A slot is free again: a request is answered (the stand-in model never loads: 503 "model loading").
        answer = _raw(port, b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 503 ") and b"too many" not in answer
    finally:
        for s in held:
            s.close()
        proc.kill()
        proc.wait()
