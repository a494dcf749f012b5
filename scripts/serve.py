"""A local model server with the SageMaker inference container's contract, around the handler
functions of a model's ``code/<entry point>`` (model_fn, input_fn, predict_fn, output_fn).

    python3 scripts/serve.py --model-dir .mlops/local/<job>/model --port 8080

Routes
    GET  /ping                          200 once model_fn has returned, 503 while loading
    POST /invocations                   the container's own route (what SageMaker calls)
    POST /endpoints/<name>/invocations  the SageMaker runtime API route (InvokeEndpoint), so an SDK
                                        client or the Lambda handler pointed here works unchanged
Errors
    /invocations answers like the container: the handler's status (400 bad input, 415 unsupported
    Content-Type, 406 unsupported Accept), 500 for anything else, the message on the first line.
    The runtime route answers like InvokeEndpoint: a handler error becomes ModelError (HTTP 424,
    header x-amzn-ErrorType) with OriginalStatusCode and OriginalMessage, as the real API does.
    413 for a body over --max-body-bytes (InvokeEndpoint's 6 MB), 503 when --max-concurrency
    requests are already running (the caller retries), 404 for other paths.
One log line per request on stderr: ``POST /invocations 200 1532B 41.7ms``. SIGINT and SIGTERM
stop the server after the requests in flight.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import signal
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_MAX_BODY_BYTES = 6 * 1024 * 1024  # InvokeEndpoint's limit for real-time endpoints
DEFAULT_MAX_CONCURRENCY = 4
RUNTIME_PATH = re.compile(r"^/endpoints/([A-Za-z0-9](?:-*[A-Za-z0-9])*)/invocations$")
MODEL_ERROR_TYPE = "ModelError:http://internal.amazon.com/coral/com.amazon.sagemaker/"


def load_handler(model_dir: str, program: str):
    """Import ``model_dir/code/<program>`` as the container does (code/ on sys.path)."""
    code_dir = os.path.join(model_dir, "code")
    path = os.path.join(code_dir, program)
    if not os.path.isfile(path):
        raise FileNotFoundError("no handler at {} (a model from train.py has code/inference.py)".format(path))
    sys.path.insert(0, code_dir)
    spec = importlib.util.spec_from_file_location(os.path.splitext(program)[0], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in ("model_fn", "input_fn", "predict_fn", "output_fn"):
        if not callable(getattr(module, name, None)):
            raise AttributeError("{} defines no {}()".format(path, name))
    return module


class Model:
    """The handler and its loaded model; ``ready`` once model_fn returned."""

    def __init__(self, model_dir: str, program: str):
        self.model_dir, self.program = model_dir, program
        self.handler = None
        self.bundle = None
        self.ready = threading.Event()
        self.failed = None

    def load(self) -> None:
        try:
            started = time.perf_counter()
            self.handler = load_handler(self.model_dir, self.program)
            self.bundle = self.handler.model_fn(self.model_dir)
            log("model loaded from {} in {:.1f}s".format(self.model_dir, time.perf_counter() - started))
            self.ready.set()
        except Exception as err:  # reported on /ping and in the log; the server keeps answering 503
            self.failed = "{}: {}".format(type(err).__name__, err)
            log("error: cannot load the model: " + self.failed)

    def invoke(self, body: bytes, content_type: str, accept: str):
        """(status, content type, body bytes) through input_fn, predict_fn, output_fn."""
        h = self.handler
        data = h.input_fn(body, content_type)
        prediction = h.predict_fn(data, self.bundle)
        out = h.output_fn(prediction, accept)
        payload, out_type = out if isinstance(out, tuple) else (out, "application/json")
        return 200, out_type, payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def error_status(err: Exception) -> int:
    """The handler's own status (InferenceError and the toolkit's errors carry one), else 500."""
    status = getattr(err, "status_code", None) or getattr(err, "status", None)
    return status if isinstance(status, int) and 400 <= status < 600 else 500


def make_handler_class(model: Model, max_body: int, slots: threading.BoundedSemaphore):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "mlops-serve"

        def log_message(self, fmt, *args):  # one line per request comes from _finish instead
            pass

        def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8", headers=None):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self._status, self._bytes = status, len(body)

        def _finish(self, started: float) -> None:
            log("{} {} {} {}B {:.1f}ms".format(self.command, self.path, getattr(self, "_status", 0),
                                               getattr(self, "_bytes", 0), (time.perf_counter() - started) * 1000))

        def do_GET(self):
            started = time.perf_counter()
            try:
                if self.path != "/ping":
                    return self._send(404, b"not found; GET /ping or POST /invocations\n")
                if model.ready.is_set():
                    return self._send(200, b"")
                message = "model failed to load: {}\n".format(model.failed) if model.failed else "model loading\n"
                self._send(503, message.encode("utf-8"))
            finally:
                self._finish(started)

        def do_POST(self):
            started = time.perf_counter()
            try:
                self._post()
            finally:
                self._finish(started)

        def _post(self):
            runtime = RUNTIME_PATH.match(self.path)
            if self.path != "/invocations" and not runtime:
                self._discard_body()
                return self._send(404, b"not found; POST /invocations or /endpoints/<name>/invocations\n")
            length = self._content_length()
            if length is None:
                self.close_connection = True
                return self._fail(runtime, 411, "send a Content-Length header", client_side=True)
            if length > max_body:
                self.close_connection = True  # the unread body must not be parsed as the next request
                return self._fail(runtime, 413, "the request body is {} bytes; the limit is {}".format(length, max_body),
                                  client_side=True)
            body = self.rfile.read(length)
            if not model.ready.is_set():
                return self._fail(runtime, 503, "the model is not loaded yet", client_side=True)
            if not slots.acquire(blocking=False):
                return self._fail(runtime, 503, "busy: too many requests at once; retry", client_side=True)
            try:
                status, out_type, payload = model.invoke(body, self.headers.get("Content-Type", ""),
                                                         self.headers.get("Accept", ""))
            except Exception as err:  # the handler's error becomes its status, as in the container
                status = error_status(err)
                if status == 500:
                    log(traceback.format_exc().rstrip())
                return self._fail(runtime, status, str(err) or type(err).__name__)
            finally:
                slots.release()
            headers = {"x-Amzn-Invoked-Production-Variant": "AllTraffic"} if runtime else {}
            self._send(status, payload, out_type, headers)

        def _content_length(self):
            try:
                value = int(self.headers.get("Content-Length", ""))
            except ValueError:
                return None
            return value if value >= 0 else None

        def _discard_body(self):
            length = self._content_length()
            if length is None or length > max_body:
                self.close_connection = True
            elif length:
                self.rfile.read(length)

        def _fail(self, runtime, status: int, message: str, client_side: bool = False):
            if not runtime:
                return self._send(status, (message + "\n").encode("utf-8"))
            if client_side:  # the runtime API itself refuses these, before any model sees them
                code = {413: "ValidationError", 411: "ValidationError"}.get(status, "ServiceUnavailable")
                body = {"message": message}
                return self._send(status if status != 411 else 400, json.dumps(body).encode("utf-8"),
                                  "application/json", {"x-amzn-ErrorType": code})
            kind = "Client" if status < 500 else "Server"
            body = {
                "ErrorCode": "{}_ERROR_FROM_MODEL".format(kind.upper()),
                "Message": 'Received {} error ({}) from primary with message "{}".'.format(
                    kind.lower(), status, message),
                "OriginalStatusCode": status,
                "OriginalMessage": message,
            }
            self._send(424, json.dumps(body).encode("utf-8"), "application/json",
                       {"x-amzn-ErrorType": MODEL_ERROR_TYPE})

    return Handler


def parse_args(argv):
    p = argparse.ArgumentParser(description="Serve a model with the SageMaker inference contract.")
    p.add_argument("--model-dir", required=True, help="folder with model.pth, model-info.json and code/")
    p.add_argument("--port", type=int, default=int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080")))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--program", default=os.environ.get("SAGEMAKER_PROGRAM", "inference.py"),
                   help="the handler file in code/")
    p.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    p.add_argument("--max-concurrency", type=int, default=DEFAULT_MAX_CONCURRENCY)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    model = Model(os.path.abspath(args.model_dir), args.program)
    slots = threading.BoundedSemaphore(max(1, args.max_concurrency))
    try:
        server = ThreadingHTTPServer((args.host, args.port), make_handler_class(model, args.max_body_bytes, slots))
    except OSError as err:
        log("error: cannot listen on {}:{} ({})".format(args.host, args.port, err.strerror or err))
        return 2
    server.daemon_threads = True
    stopping = threading.Event()

    def stop(signum, _frame):
        if not stopping.is_set():
            stopping.set()
            log("stopping ({})".format(signal.Signals(signum).name))
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    log("listening on http://{}:{} (model {})".format(args.host, server.server_address[1], model.model_dir))
    threading.Thread(target=model.load, daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
