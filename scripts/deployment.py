"""The predictor: a Ray Serve deployment answering named dog-breed predictions for an image.

On the endpoint the Ray Serve SageMaker image runs it (``config.yaml`` at the model root:
``import_path: deployment:app``; batching from its ``user_config``); ``mlops serve`` (and so
``invoke --local``, ``loadtest --local`` and the demo) runs the SAME class without Ray: scripts/serve.py
hands it a real Starlette ``Request``. Where ``ray`` cannot be imported, serve_compat.py stands in
for ``serve.deployment`` and ``serve.batch`` (same semantics on asyncio).

Requests and answers are inference.py's (the one copy of decode, guards and top-k): image bytes
(image/*, application/x-image, application/octet-stream) or JSON {"url"|"image", "top_k"?,
"logits"?}; 200 application/json {"predictions": [...], "top_k", "model"}; bad input answers its
status (400, 415 unsupported Content-Type, 406 unsupported Accept) with the message as text/plain.
``X-Amzn-SageMaker-Custom-Attributes`` is honoured: ``top_k=<n>`` sets k for an image body (a JSON
body's own "top_k" wins) and the header comes back on the answer, as SageMaker relays it to the caller.
"""
from __future__ import annotations

import asyncio
import logging
import os
import sys
import time

try:
    from ray import serve

    ON_RAY = True
except ImportError:  # a laptop, CI, `mlops serve`: the local stand-ins with the same semantics
    ON_RAY = False
    try:
        import serve_compat as serve
    except ImportError:  # loaded by file path: the sibling modules sit next to this file
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import serve_compat as serve

try:
    import inference
except ImportError:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import inference

from starlette.responses import Response

#: Ray Serve's own defaults are 10 and 10 ms; config.yaml's user_config (endpoint.batching) overrides them.
DEFAULT_MAX_BATCH_SIZE = 8
DEFAULT_BATCH_WAIT_TIMEOUT_S = 0.01
MODEL_DIR_ENV = "MLOPS_MODEL_DIR"
CUSTOM_ATTRIBUTES = "x-amzn-sagemaker-custom-attributes"
TEXT_TYPE = "text/plain"  # Starlette adds "; charset=utf-8"

log = logging.getLogger("mlops.predictor")
#: MLOPS_PREDICTOR_LOG=debug logs every batch's size and time (what bench:serve reads to show batching under load).
if os.environ.get("MLOPS_PREDICTOR_LOG", "").lower() == "debug":
    log.setLevel(logging.DEBUG)


def resolve_model_dir(model_dir=None) -> str:
    """The folder with model-info.json: the argument, $MLOPS_MODEL_DIR, this file's folder (the
    archive root on the endpoint), else SageMaker's /opt/ml/model."""
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (model_dir, os.environ.get(MODEL_DIR_ENV), here, os.path.dirname(here)):
        if candidate and os.path.isfile(os.path.join(candidate, "model-info.json")):
            return candidate
    return model_dir or os.environ.get(MODEL_DIR_ENV) or "/opt/ml/model"


def custom_top_k(header):
    """``top_k=<n>`` from X-Amzn-SageMaker-Custom-Attributes ("k=v" pairs, comma or semicolon separated)."""
    for part in (header or "").replace(";", ",").split(","):
        key, _, value = part.partition("=")
        if key.strip().lower() == "top_k":
            try:
                return inference._top_k(int(value.strip()))
            except ValueError:
                raise inference.InferenceError(
                    "X-Amzn-SageMaker-Custom-Attributes top_k must be a whole number of at least 1, got {!r}".format(
                        value.strip())) from None
    return None


@serve.deployment(name="Predictor")
class Predictor:
    """Loads the model once per replica; ``__call__`` answers one request, ``predict`` batches them."""

    def __init__(self, model_dir=None):
        self.model_dir = resolve_model_dir(model_dir)
        self.bundle = inference.model_fn(self.model_dir)
        #: Forward passes run so far (one per batch): what the batching tests count.
        self.forward_passes = 0

    def reconfigure(self, config: dict) -> None:
        """Ray Serve calls this with the deployment's user_config (config.yaml); serve.py does too."""
        config = config or {}
        self.predict.set_max_batch_size(int(config.get("max_batch_size", DEFAULT_MAX_BATCH_SIZE)))
        self.predict.set_batch_wait_timeout_s(float(config.get("batch_wait_timeout_s", DEFAULT_BATCH_WAIT_TIMEOUT_S)))

    @serve.batch(max_batch_size=DEFAULT_MAX_BATCH_SIZE, batch_wait_timeout_s=DEFAULT_BATCH_WAIT_TIMEOUT_S)
    async def predict(self, requests: list) -> list:
        """Decoded requests -> answers, one forward pass for the whole batch."""
        self.forward_passes += 1
        started = time.perf_counter()
        answers = await asyncio.to_thread(inference.predict_batch, requests, self.bundle)
        log.debug("batch of %d in %.0f ms", len(requests), (time.perf_counter() - started) * 1000)
        return answers

    async def __call__(self, request) -> Response:
        body = await request.body()
        headers = request.headers
        attributes = headers.get(CUSTOM_ATTRIBUTES)
        echo = {"X-Amzn-SageMaker-Custom-Attributes": attributes} if attributes else {}
        try:
            # Decoding (and a URL fetch) block: off the event loop so batches keep forming.
            decoded = await asyncio.to_thread(inference.input_fn, body, headers.get("content-type", ""),
                                              self.bundle.get("image_size"))
            top_k = custom_top_k(attributes)
            if top_k is not None and inference._media_type(headers.get("content-type")) != inference.JSON_TYPE:
                decoded["top_k"] = top_k
            accept = headers.get("accept", "")
            inference.output_fn({}, accept)  # refuse an unsupported Accept before spending a forward pass
            text, content_type = inference.output_fn(await self.predict(decoded), accept)
        except inference.InferenceError as err:
            return Response(str(err) + "\n", status_code=err.status_code, media_type=TEXT_TYPE, headers=echo)
        except Exception as err:  # a bug or a broken model: 500, the traceback in the log only
            log.exception("prediction failed")
            return Response("{}\n".format(str(err) or type(err).__name__), status_code=500, media_type=TEXT_TYPE,
                            headers=echo)
        return Response(text, status_code=200, media_type=content_type, headers=echo)


app = Predictor.bind()
