"""The model archive `mlops deploy` builds for the Ray Serve image (src/features/deploy/model-package.ts,
run here through tsx on the session's trained model), unpacked as the image does and loaded on its
own: config.yaml's import_path module, its user_config's batching, real Starlette requests."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile

import pytest
import yaml

from conftest import REPO, clean_env, run_subprocess

TSX = os.path.join(REPO, "node_modules", ".bin", "tsx")
PACK = """
import {{ createReadStream }} from 'node:fs'
import {{ parseConfigText }} from '{repo}/src/config/load.ts'
import {{ collectInferenceCode, repackModelArchive }} from '{repo}/src/features/deploy/model-package.ts'
import {{ serveConfigFor }} from '{repo}/src/features/deploy/ray-serve.ts'
const cfg = parseConfigText({config!r}, 'mlops.config.yaml')
const code = await collectInferenceCode('{repo}/scripts', cfg.endpoint.entryPoint)
const yaml = serveConfigFor(cfg.endpoint, {{ kind: 'instance', instanceType: 'ml.m5.xlarge' }}, code.app)
const out = await repackModelArchive(createReadStream({source!r}), code, yaml, {work!r}, 'test')
console.log(JSON.stringify(out))
"""
CONFIG = ("project:\n  name: dogs\ndata:\n  bucket: dogs-data\nendpoint:\n  batching:\n    maxBatchSize: 4\n"
          "    batchWaitTimeoutMs: 500\n")


@pytest.fixture(scope="module")
def archive(trained, tmp_path_factory):
    if not os.path.exists(TSX) or shutil.which("node") is None:
        pytest.skip("node and tsx (npm ci) are needed to build the archive")
    base = tmp_path_factory.mktemp("archive")
    source = str(base / "trained.tar.gz")
    with tarfile.open(source, "w:gz") as tar:  # what SageMaker uploads: the model dir's contents
        for name in sorted(os.listdir(trained["model_dir"])):
            tar.add(os.path.join(trained["model_dir"], name), arcname=name)
    script = base / "pack.mts"
    work = base / "work"
    work.mkdir()
    script.write_text(PACK.format(repo=REPO, config=CONFIG, source=source, work=str(work)))
    proc = subprocess.run([TSX, str(script)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    packed = json.loads(proc.stdout.strip().splitlines()[-1])
    root = base / "opt-ml-model"
    with tarfile.open(packed["file"]) as tar:
        tar.extractall(root)
    return {"root": str(root), "entries": packed["entries"]}


def test_the_archive_holds_config_yaml_and_deployment_py_at_its_root(archive):
    assert archive["entries"] == ["classes.json", "config.yaml", "deployment.py", "inference.py", "model-info.json",
                                  "model.pth", "model_def.py", "serve_compat.py", "url_fetch.py"]
    with open(os.path.join(archive["root"], "config.yaml"), encoding="utf-8") as fh:
        app = yaml.safe_load(fh)["applications"][0]
    assert app["import_path"] == "deployment:app" and app["route_prefix"] == "/"
    assert app["deployments"][0]["name"] == "Predictor"
    assert app["deployments"][0]["user_config"] == {"max_batch_size": 4, "batch_wait_timeout_s": 0.5}


LOAD = r"""
import asyncio, json, os, sys, yaml
from starlette.requests import Request
import deployment  # from PYTHONPATH=/opt/ml/model as on the image; config.yaml says deployment:app

root = os.getcwd()
app_cfg = yaml.safe_load(open(os.path.join(root, "config.yaml")))["applications"][0]
module, attr = app_cfg["import_path"].split(":")
assert module == "deployment" and deployment.__file__ == os.path.join(root, "deployment.py"), deployment.__file__
import inference
assert inference.__file__ == os.path.join(root, "inference.py"), inference.__file__
cls = getattr(deployment, attr).deployment.func_or_class
instance = cls()  # no argument: it finds the model next to itself, as on the endpoint
instance.reconfigure(app_cfg["deployments"][0]["user_config"])
jpeg = open(sys.argv[1], "rb").read()

def request(body, content_type):
    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}
    headers = [(b"content-type", content_type.encode())]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b""}, receive)

async def main():
    one = await instance(request(jpeg, "image/jpeg"))
    bad = await instance(request(b"not an image", "image/jpeg"))
    before = instance.forward_passes
    many = await asyncio.gather(*(instance(request(jpeg, "image/jpeg")) for _ in range(4)))
    print(json.dumps({
        "one": [one.status_code, one.headers["content-type"], json.loads(one.body)],
        "bad": [bad.status_code, bad.body.decode()],
        "many": [[r.status_code, json.loads(r.body)["top_k"]] for r in many],
        "passes": instance.forward_passes - before,
    }))

asyncio.run(main())
"""


def test_the_archive_serves_on_its_own_with_its_batching(archive, dataset):
    folder = sorted(os.listdir(dataset.test))[1]
    sample = os.path.join(dataset.test, folder, sorted(os.listdir(os.path.join(dataset.test, folder)))[0])
    root = archive["root"]
    r = run_subprocess(["-c", LOAD, sample], clean_env(PYTHONPATH=root + os.pathsep + os.path.join(root, "code")),
                       timeout=120, cwd=root)
    assert r.code == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    status, ctype, answer = out["one"]
    assert status == 200 and ctype == "application/json" and answer["top_k"] == 3
    assert {p["label"] for p in answer["predictions"]} == {"Affenpinscher", "Afghan hound", "Airedale terrier"}
    assert out["bad"][0] == 400 and "not a readable image" in out["bad"][1]
    assert out["many"] == [[200, 3]] * 4 and out["passes"] == 1


def test_serve_py_takes_the_batching_of_a_deployed_archive(archive, tmp_path):
    import serve

    assert serve.archive_batching(archive["root"]) == {"max_batch_size": 4, "batch_wait_timeout_s": 0.5}
    assert serve.archive_batching(str(tmp_path)) == {}
    (tmp_path / "config.yaml").write_text("applications: nope\n")
    assert serve.archive_batching(str(tmp_path)) == {}
