"""A local model server with the SageMaker contract of the Ray Serve image, around the SAME
predictor class the endpoint runs: ``deployment.py``'s Ray Serve deployment, without Ray.

    python3 scripts/serve.py --model-dir .mlops/local/<job>/model --port 8080

The class is the project's predictor (``--predictor``, what deploy packs), else the one bundled
beside this file; never the model's own ``deployment.py`` (at its root, as deploy packs it, or in
``code/``, as train.py writes it) unless ``--trust-archive-code`` says so: a model archive is data,
and running the Python inside one someone handed you is running their program (issue 27). It is built once (its constructor
loads the model) and ``reconfigure`` gets the batching settings, as Ray Serve does with config.yaml's
user_config; every request becomes a real Starlette ``Request`` awaited on one asyncio loop, so
concurrent requests are batched by its ``@serve.batch`` exactly as on the endpoint.

Routes
    GET  /ping                          200 once the class is built, 503 while loading
    POST /invocations                   what SageMaker calls; the Ray Serve image's adapter semantics:
                                        body, Content-Type and Accept (both default application/json)
                                        and every X-Amzn-SageMaker-* header go to the class; its status,
                                        body, content type and X-Amzn-SageMaker-* headers come back;
                                        504 {"error": "Request timeout"} after RAYSERVE_BACKEND_TIMEOUT
                                        seconds (default 300)
    POST /endpoints/<name>/invocations  the SageMaker runtime API route (InvokeEndpoint), so an SDK
                                        client or the Lambda handler pointed here works unchanged
Errors
    /invocations answers with the class's status (400 bad input, 415 unsupported Content-Type, 406
    unsupported Accept), 500 for anything else, the message on the first line.
    The runtime route answers like InvokeEndpoint: an error status becomes ModelError (HTTP 424,
    header x-amzn-ErrorType) with OriginalStatusCode and OriginalMessage, as the real API does.
    413 for a body over --max-body-bytes (InvokeEndpoint's 6 MB), 503 when --max-concurrency
    requests are already running (the caller retries), 404 for other paths.
    A request that announces ``Expect: 100-continue`` with a body over the limit (or a path that
    does not exist) is answered 413 (404) at once, never "100 Continue".
One log line per request on stderr: ``POST /invocations 200 1532B 41.7ms`` (control characters in
the path escaped, so a request cannot write escape sequences into the terminal). SIGINT and SIGTERM
stop the server after the requests in flight. A connection idle for --idle-timeout seconds is
closed (idle connections would otherwise hold a thread each forever), and at most --max-connections
are open at once (the next is answered 503 and closed). With --exit-with-parent the
server stops when the process that started it dies, even by SIGKILL (``mlops serve`` passes it).
"""
from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import importlib.util
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_MAX_BODY_BYTES = 6 * 1024 * 1024  # InvokeEndpoint's limit for real-time endpoints
DEFAULT_BACKEND_TIMEOUT = 300  # the Ray Serve image adapter's RAYSERVE_BACKEND_TIMEOUT default
DEFAULT_IDLE_TIMEOUT = 60  # seconds a connection may sit without sending a byte
DEFAULT_MAX_CONNECTIONS = 64  # open connections (one thread each); more are answered 503 and closed
RUNTIME_PATH = re.compile(r"^/endpoints/([A-Za-z0-9](?:-*[A-Za-z0-9])*)/invocations$")
MODEL_ERROR_TYPE = "ModelError:http://internal.amazon.com/coral/com.amazon.sagemaker/"
SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
PREDICTOR_FILE = "deployment.py"
SAGEMAKER_HEADER = "x-amzn-sagemaker-"


def find_predictor(model_dir: str, trust_archive_code: bool = False, predictor=None) -> str:
    """The predictor file to import: ``predictor`` (the project's) when given, else the bundled one.
    Only with ``trust_archive_code``: deployment.py at the model root (a deployed archive) or in
    code/ (train.py's) first."""
    folders = [model_dir, os.path.join(model_dir, "code")] if trust_archive_code else []
    if predictor:
        if not os.path.isfile(predictor):
            raise FileNotFoundError("the predictor {} does not exist".format(predictor))
        candidates = [os.path.join(f, PREDICTOR_FILE) for f in folders] + [predictor]
    else:
        candidates = [os.path.join(f, PREDICTOR_FILE) for f in folders + [SCRIPT_DIR]]
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise FileNotFoundError("no {} in {}".format(PREDICTOR_FILE, ", ".join(os.path.dirname(c) for c in candidates)))


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with control characters (ESC, CR, BEL, C1 CSI...) written as \\xNN: what a client
    sends may be logged, never interpreted by the terminal. Backslashes are escaped too, so the
    escaped form is unambiguous."""
    return _CONTROL.sub(lambda m: "\\x{:02x}".format(ord(m.group())) if ord(m.group()) < 0x100 else
                        "\\u{:04x}".format(ord(m.group())), text.replace("\\", "\\\\"))


def exit_with_parent(stop) -> None:
    """Call ``stop`` when the parent process dies, whatever killed it: Linux's PR_SET_PDEATHSIG
    sends SIGTERM at once; a watcher thread that sees the parent pid change covers the rest (and
    the race where the parent died before prctl ran)."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
        except Exception:  # no prctl: the watcher below still works
            pass

    def watch():
        while True:
            if os.getppid() != parent:
                log("the parent process {} is gone; stopping".format(parent))
                stop()
                return
            time.sleep(0.5)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def load_deployment_class(path: str):
    """Import the predictor module from its file (its folder first on sys.path, as Ray Serve's
    PYTHONPATH has the model root) and return the class behind ``app`` (``func_or_class``), the
    same attribute Ray's Deployment has."""
    folder = os.path.dirname(path)
    if folder in sys.path:
        sys.path.remove(folder)
    sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    app = getattr(module, "app", None)
    deployment = getattr(app, "deployment", None)
    cls = getattr(deployment, "func_or_class", None)
    if cls is None:
        raise AttributeError("{} defines no Ray Serve app (app = <Deployment>.bind())".format(path))
    return cls, tuple(getattr(app, "args", ())), dict(getattr(app, "kwargs", {}))


def starlette_request(body: bytes, headers: dict, client=("127.0.0.1", 0)):
    """A real Starlette Request for POST / (the route the adapter proxies to) with this body."""
    from starlette.requests import Request

    sent = {"done": False}

    async def receive():
        if sent["done"]:
            return {"type": "http.disconnect"}
        sent["done"] = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/", "raw_path": b"/", "root_path": "", "query_string": b"", "server": ("127.0.0.1", 8000),
        "client": client,
        "headers": [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in headers.items()],
    }
    return Request(scope, receive)


def adapter_headers(incoming) -> dict:
    """What the Ray Serve image's adapter forwards: X-Amzn-SageMaker-*, Content-Type, Accept."""
    out = {k: v for k, v in incoming.items() if k.lower().startswith(SAGEMAKER_HEADER)}
    out["Content-Type"] = incoming.get("Content-Type") or "application/json"
    out["Accept"] = incoming.get("Accept") or "application/json"
    return out


def answer_of(result):
    """(status, content type, body bytes, X-Amzn-SageMaker-* headers) of what ``__call__`` returned:
    a Starlette Response as the predictor returns, or a dict/list/str/bytes as Ray Serve also accepts."""
    if hasattr(result, "status_code") and hasattr(result, "body"):
        headers = {k: v for k, v in result.headers.items() if k.lower().startswith(SAGEMAKER_HEADER)}
        return result.status_code, result.headers.get("content-type", "application/json"), bytes(result.body), headers
    if isinstance(result, (bytes, bytearray)):
        return 200, "application/octet-stream", bytes(result), {}
    if isinstance(result, str):
        return 200, "text/plain; charset=utf-8", result.encode("utf-8"), {}
    return 200, "application/json", json.dumps(result).encode("utf-8"), {}


def archive_batching(model_dir: str) -> dict:
    """The user_config of a deployed archive's config.yaml (what Ray Serve hands ``reconfigure``), so a
    model.tar.gz from deploy batches here as on its endpoint; {} when there is none. Flags override it."""
    path = os.path.join(model_dir, "config.yaml")
    if not os.path.isfile(path):
        return {}
    try:
        import yaml

        with open(path, encoding="utf-8") as fh:
            deployments = yaml.safe_load(fh)["applications"][0].get("deployments") or [{}]
        config = deployments[0].get("user_config") or {}
        return {k: config[k] for k in ("max_batch_size", "batch_wait_timeout_s") if k in config}
    except Exception as err:  # an unreadable config.yaml leaves the predictor's defaults, said once
        log("warning: ignoring {} ({}: {})".format(path, type(err).__name__, err))
        return {}


class Model:
    """The predictor instance on its event loop; ``ready`` once the constructor returned."""

    def __init__(self, model_dir: str, batching: dict, backend_timeout: float, trust_archive_code: bool = False,
                 predictor=None):
        self.model_dir, self.batching, self.backend_timeout = model_dir, batching, backend_timeout
        self.trust_archive_code, self.predictor = trust_archive_code, predictor
        self.instance = None
        self.ready = threading.Event()
        self.failed = None
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="predictor-loop", daemon=True).start()

    def load(self) -> None:
        try:
            started = time.perf_counter()
            path = find_predictor(self.model_dir, self.trust_archive_code, self.predictor)
            cls, args, kwargs = load_deployment_class(path)
            os.environ["MLOPS_MODEL_DIR"] = self.model_dir  # the class finds its model without Ray's cwd
            instance = cls(*args, **kwargs)
            if callable(getattr(instance, "reconfigure", None)):
                instance.reconfigure(dict(self.batching))
            self.instance = instance
            log("model loaded from {} in {:.1f}s (predictor {}.{} from {})".format(
                self.model_dir, time.perf_counter() - started, cls.__module__, cls.__name__, path))
            self.ready.set()
        except Exception as err:  # reported on /ping and in the log; the server keeps answering 503
            self.failed = "{}: {}".format(type(err).__name__, err)
            log("error: cannot load the model: " + self.failed)

    def close(self) -> None:
        """Cancel what still runs on the loop (the batch queues' tasks) and stop it, quietly."""

        async def cancel_all():
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self.loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(cancel_all(), self.loop).result(timeout=5)
            except Exception:  # a task that will not stop must not keep the server from exiting
                pass
            self.loop.call_soon_threadsafe(self.loop.stop)

    def invoke(self, body: bytes, headers: dict):
        """(status, content type, body bytes, extra headers) from the class, with the adapter's timeout."""
        request = starlette_request(body, adapter_headers(headers))
        future = asyncio.run_coroutine_threadsafe(self.instance(request), self.loop)
        try:
            result = future.result(timeout=self.backend_timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            return 504, "application/json", json.dumps({"error": "Request timeout"}).encode("utf-8"), {}
        return answer_of(result)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def error_status(err: Exception) -> int:
    """The handler's own status (InferenceError and the toolkit's errors carry one), else 500."""
    status = getattr(err, "status_code", None) or getattr(err, "status", None)
    return status if isinstance(status, int) and 400 <= status < 600 else 500


def make_handler_class(model: Model, max_body: int, slots: threading.BoundedSemaphore,
                       idle_timeout: float = DEFAULT_IDLE_TIMEOUT):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "mlops-serve"
        #: socketserver sets it on the connection: a read that waits longer ends the connection.
        timeout = idle_timeout

        def log_message(self, fmt, *args):  # one line per request comes from _finish instead
            pass

        def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8", headers=None):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            # As SageMaker's runtime answers: every response carries a request id (clients check for one).
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self._status, self._bytes = status, len(body)

        def _finish(self, started: float) -> None:
            log("{} {} {} {}B {:.1f}ms".format(printable(self.command), printable(self.path), getattr(self, "_status", 0),
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

        def handle_expect_100(self):
            """Answer ``Expect: 100-continue`` with the refusal itself when the request will be refused
            anyway (too large, no length, unknown path): the client must not be invited to send it."""
            if self.command != "POST":
                return super().handle_expect_100()
            started = time.perf_counter()
            runtime = RUNTIME_PATH.match(self.path)
            refused = True
            try:
                if self.path != "/invocations" and not runtime:
                    self.close_connection = True
                    self._send(404, b"not found; POST /invocations or /endpoints/<name>/invocations\n")
                    return False
                length = self._content_length()
                if length is None:
                    self.close_connection = True
                    self._fail(runtime, 411, "send a Content-Length header", client_side=True)
                    return False
                if length > max_body:
                    self.close_connection = True
                    self._fail(runtime, 413, "the request body is {} bytes; the limit is {}".format(length, max_body),
                               client_side=True)
                    return False
                refused = False
                return super().handle_expect_100()
            finally:
                if refused:
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
                status, out_type, payload, extra = model.invoke(body, self.headers)
            except Exception as err:  # the class raised instead of answering: a 500, as Ray Serve gives
                status = error_status(err)
                log(traceback.format_exc().rstrip())
                return self._fail(runtime, status, str(err) or type(err).__name__)
            finally:
                slots.release()
            if status >= 400:
                message = payload.decode("utf-8", "replace").strip() or "error {}".format(status)
                if not runtime:
                    return self._send(status, payload, out_type, extra)
                return self._fail(runtime, status, message.splitlines()[0] if status != 504 else message)
            headers = {**extra, **({"x-Amzn-Invoked-Production-Variant": "AllTraffic"} if runtime else {})}
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


class BoundedHTTPServer(ThreadingHTTPServer):
    """A thread per connection, at most ``max_connections`` of them: the next is answered 503 and
    closed at once, so idle or slow clients cannot pile up threads until the process falls over."""

    daemon_threads = True

    def __init__(self, address, handler, max_connections: int = DEFAULT_MAX_CONNECTIONS):
        self.connections = threading.BoundedSemaphore(max(1, max_connections))
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        if not self.connections.acquire(blocking=False):
            try:
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                b"Content-Length: 39\r\nConnection: close\r\n\r\ntoo many open connections; retry later\n")
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self.connections.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connections.release()


def parse_args(argv):
    p = argparse.ArgumentParser(description="Serve a model with the SageMaker inference contract.")
    p.add_argument("--model-dir", required=True, help="folder with model.pth, model-info.json and code/")
    p.add_argument("--port", type=int, default=int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080")))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--max-batch-size", type=int, default=None,
                   help="the predictor's @serve.batch size (endpoint.batching.maxBatchSize)")
    p.add_argument("--batch-wait-ms", type=float, default=None,
                   help="how long a batch waits to fill (endpoint.batching.batchWaitTimeoutMs)")
    p.add_argument("--backend-timeout", type=float,
                   default=float(os.environ.get("RAYSERVE_BACKEND_TIMEOUT", DEFAULT_BACKEND_TIMEOUT)),
                   help="seconds before /invocations answers 504 (RAYSERVE_BACKEND_TIMEOUT)")
    p.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    p.add_argument("--max-concurrency", type=int, default=None,
                   help="requests at once, more get 503 (default: two batches, at least 5, as max_ongoing_requests on deploy)")
    p.add_argument("--idle-timeout", type=float, default=DEFAULT_IDLE_TIMEOUT,
                   help="seconds a connection may stay silent before it is closed")
    p.add_argument("--max-connections", type=int, default=DEFAULT_MAX_CONNECTIONS,
                   help="open connections at once; more are answered 503 and closed")
    p.add_argument("--predictor", default=None,
                   help="the predictor file (the project's deployment.py, as deploy packs it); default: the bundled one")
    p.add_argument("--trust-archive-code", action="store_true",
                   help="run the model folder's own deployment.py (root or code/) instead: only for a model you trust")
    p.add_argument("--exit-with-parent", action="store_true",
                   help="stop when the process that started this one dies (mlops serve passes it)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(message)s")  # the predictor's errors
    batching = archive_batching(os.path.abspath(args.model_dir))
    if args.max_batch_size is not None:
        batching["max_batch_size"] = max(1, args.max_batch_size)
    if args.batch_wait_ms is not None:
        batching["batch_wait_timeout_s"] = max(0.0, args.batch_wait_ms) / 1000
    if args.backend_timeout <= 0:
        log("error: --backend-timeout (RAYSERVE_BACKEND_TIMEOUT) must be positive")
        return 2
    if args.idle_timeout <= 0:
        log("error: --idle-timeout must be positive")
        return 2
    predictor = os.path.abspath(args.predictor) if args.predictor else None
    model = Model(os.path.abspath(args.model_dir), batching, args.backend_timeout, args.trust_archive_code, predictor)
    # Unset: what a deployed replica takes (mlops's requestsPerReplica), or a batch could never fill.
    max_concurrency = args.max_concurrency or max(5, 2 * batching.get("max_batch_size", 8))
    slots = threading.BoundedSemaphore(max(1, max_concurrency))
    try:
        server = BoundedHTTPServer((args.host, args.port),
                                   make_handler_class(model, args.max_body_bytes, slots, args.idle_timeout),
                                   args.max_connections)
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
    if args.exit_with_parent:
        exit_with_parent(lambda: stop(signal.SIGTERM, None))
    log("listening on http://{}:{} (model {})".format(args.host, server.server_address[1], printable(model.model_dir)))
    threading.Thread(target=model.load, daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        model.close()
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
