"""The seed-style handler the serving benchmark compares against (issue 30): a plain http.server, one
request = one forward pass, nothing shared with the predictor. Full PIL decode, Resize(256),
CenterCrop(224), ToTensor, Normalize, fp32 under torch.no_grad; torch's default thread settings.

    python3 bench/serve/seed_server.py --model-dir DIR --port 8090

POST /invocations with image bytes answers {"predictions": [{"index", "probability"}, ...]} (top 5);
GET /ping answers 200 once the model is loaded (it is loaded before the server listens).
"""
from __future__ import annotations

import argparse
import io
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch
import torchvision
from PIL import Image
from torchvision import transforms


def load(model_dir: str):
    with open(model_dir + "/model-info.json", encoding="utf-8") as fh:
        info = json.load(fh)
    model = getattr(torchvision.models, info["arch"])(weights=None)
    model.fc = torch.nn.Linear(model.fc.in_features, int(info["num_classes"]))
    model.load_state_dict(torch.load(model_dir + "/model.pth", map_location="cpu"))
    model.eval()
    transform = transforms.Compose([
        transforms.Resize(256),
        transforms.CenterCrop(224),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    return model, transform


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--model-dir", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: leave torch's default)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    model, transform = load(args.model_dir)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            pass

        def _send(self, status: int, body: bytes, content_type="application/json"):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            self._send(200 if self.path == "/ping" else 404, b"")

        def do_POST(self):
            data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                image = Image.open(io.BytesIO(data)).convert("RGB")
                with torch.no_grad():
                    logits = model(transform(image).unsqueeze(0))[0]
                top = torch.topk(torch.softmax(logits, dim=0), 5)
                body = {"predictions": [{"index": int(i), "probability": float(v)}
                                        for v, i in zip(top.values, top.indices)]}
                self._send(200, json.dumps(body).encode())
            except Exception as err:  # noqa: BLE001 - a benchmark server: report and go on
                self._send(400, str(err).encode(), "text/plain")

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print("seed-style server on {}".format(args.port), file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
