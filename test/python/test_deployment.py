"""scripts/deployment.py, the predictor: the Ray Serve deployment the endpoint runs, here without Ray
(serve_compat's stand-ins), handed real Starlette requests. Same answers and errors as inference.py's
handler functions, dynamic batching with @serve.batch semantics, X-Amzn-SageMaker-* headers."""
from __future__ import annotations

import asyncio
import json
import os
import time

import pytest

import deployment
import inference
import serve
import serve_compat

BREEDS = {"Affenpinscher", "Afghan hound", "Airedale terrier"}


def _jpeg(dataset, n=0):
    folder = sorted(os.listdir(dataset.test))[n % 3]
    name = sorted(os.listdir(os.path.join(dataset.test, folder)))[0]
    with open(os.path.join(dataset.test, folder, name), "rb") as fh:
        return fh.read()


@pytest.fixture(scope="module")
def predictor(trained):
    cls = deployment.app.deployment.func_or_class
    assert cls is deployment.Predictor.func_or_class  # what serve.py and Ray both reach through `app`
    return cls(trained["model_dir"])


def _call(predictor, body, headers):
    return predictor(serve.starlette_request(body, headers))


def _run(*coroutines):
    async def gather():
        return await asyncio.gather(*coroutines)
    return asyncio.run(gather())


def test_a_real_starlette_request_gets_the_named_top_k(predictor, dataset):
    before = predictor.forward_passes
    [res] = _run(_call(predictor, _jpeg(dataset), {"Content-Type": "image/jpeg"}))
    assert res.status_code == 200 and res.headers["content-type"] == "application/json"
    out = json.loads(res.body)
    assert out["top_k"] == 3 and {p["label"] for p in out["predictions"]} == BREEDS
    assert out["model"] == {"arch": "resnet18"} and predictor.forward_passes == before + 1
    # The same answer as the handler functions give: one copy of the logic.
    bundle = predictor.bundle
    expected = inference.predict_fn(inference.input_fn(_jpeg(dataset), "image/jpeg"), bundle)
    assert out == json.loads(json.dumps(expected))


@pytest.mark.parametrize("body,content_type,accept,status,message", [
    (b"not an image", "image/jpeg", "", 400, "not a readable image"),
    (b"{", "application/json", "", 400, "not valid JSON"),
    (b'{"image": "aGVsbG8=", "top_k": 0}', "application/json", "", 400, "top_k"),
    (b"a,b", "text/csv", "", 415, "Content-Type 'text/csv' is not supported"),
    (None, "image/jpeg", "text/csv", 406, "Accept 'text/csv' is not supported"),
])
def test_bad_input_gets_the_same_status_and_message_as_today(predictor, dataset, body, content_type, accept, status,
                                                              message):
    before = predictor.forward_passes
    headers = {"Content-Type": content_type, **({"Accept": accept} if accept else {})}
    [res] = _run(_call(predictor, body or _jpeg(dataset), headers))
    assert res.status_code == status
    assert res.headers["content-type"] == "text/plain; charset=utf-8"
    text = res.body.decode()
    assert message in text.splitlines()[0] and text.endswith("\n")
    assert predictor.forward_passes == before  # refused before any forward pass


def test_custom_attributes_set_top_k_and_come_back(predictor, dataset):
    attrs = "trace=abc, top_k=1"
    [res] = _run(_call(predictor, _jpeg(dataset), {"Content-Type": "image/jpeg",
                                                     "X-Amzn-SageMaker-Custom-Attributes": attrs}))
    assert res.status_code == 200 and res.headers["x-amzn-sagemaker-custom-attributes"] == attrs
    assert json.loads(res.body)["top_k"] == 1
    [bad] = _run(_call(predictor, _jpeg(dataset), {"Content-Type": "image/jpeg",
                                                     "X-Amzn-SageMaker-Custom-Attributes": "top_k=many"}))
    assert bad.status_code == 400 and "top_k" in bad.body.decode()


def test_concurrent_requests_share_one_forward_pass(predictor, dataset):
    predictor.reconfigure({"max_batch_size": 4, "batch_wait_timeout_s": 0.5})
    try:
        before = predictor.forward_passes
        bodies = [(_jpeg(dataset, n), n) for n in range(4)]
        results = _run(*(_call(predictor, b, {"Content-Type": "image/jpeg",
                                              "X-Amzn-SageMaker-Custom-Attributes": "top_k={}".format(n % 3 + 1)})
                         for b, n in bodies))
        assert predictor.forward_passes == before + 1
        # Each caller gets its own answer (its own k, its own image's prediction), not a neighbour's.
        for (body, n), res in zip(bodies, results):
            alone = inference.predict_fn(inference.input_fn(body, "image/jpeg"), predictor.bundle)
            out = json.loads(res.body)
            assert out["top_k"] == n % 3 + 1
            assert [p["label"] for p in out["predictions"]] == [p["label"] for p in alone["predictions"]][:n % 3 + 1]
        # max_batch_size caps a batch: 5 requests with batches of 2 take 3 passes.
        predictor.reconfigure({"max_batch_size": 2, "batch_wait_timeout_s": 0.5})
        before = predictor.forward_passes
        _run(*(_call(predictor, _jpeg(dataset, n), {"Content-Type": "image/jpeg"}) for n in range(5)))
        assert predictor.forward_passes == before + 3
    finally:
        predictor.reconfigure({})


def test_the_local_batch_waits_at_most_its_timeout_and_fails_the_whole_batch():
    calls = []

    class Box:
        @serve_compat.batch(max_batch_size=3, batch_wait_timeout_s=0.05)
        async def double(self, items):
            calls.append(list(items))
            if "boom" in items:
                raise RuntimeError("boom")
            return [i * 2 for i in items]

    box = Box()

    async def scenario():
        started = time.perf_counter()
        lone = await box.double(21)  # alone: answered after the wait, not never
        waited = time.perf_counter() - started
        full = await asyncio.gather(*(box.double(i) for i in range(3)))
        outcome = await asyncio.gather(box.double("boom"), box.double("x"), return_exceptions=True)
        return lone, waited, full, outcome

    lone, waited, full, outcome = asyncio.run(scenario())
    assert lone == 42 and 0.04 <= waited < 1.0
    assert full == [0, 2, 4] and calls[1] == [0, 1, 2]
    assert all(isinstance(o, RuntimeError) for o in outcome) and calls[2] == ["boom", "x"]


def test_the_stand_ins_have_rays_surface():
    @serve_compat.deployment(name="Named", num_replicas=2)
    class Thing:
        def __init__(self, x):
            self.x = x

    app = Thing.bind(7)
    assert app.deployment.func_or_class(*app.args).x == 7
    assert app.deployment.name == "Named" and Thing.options(num_replicas=3).options_dict["num_replicas"] == 3
    assert serve_compat.deployment(Thing.func_or_class).name == "Thing"
    with pytest.raises(TypeError, match="async"):
        serve_compat.batch(lambda items: items)


def test_without_ray_the_module_uses_the_stand_ins():
    assert deployment.ON_RAY is False and deployment.serve is serve_compat
