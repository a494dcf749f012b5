"""Issue 19 item 8 and the IPv6 crash: one deadline for the whole URL fetch, no Ghostscript
formats, malformed bracketed hosts are client errors. Only loopback traffic."""
import io
import json
import socket
import threading
import time

import pytest
from PIL import EpsImagePlugin, Image

import inference
import url_fetch
from url_fetch import FetchFailed, FetchPolicy, FetchRefused, fetch_url

LOCAL = FetchPolicy(allow_http=True, allow_private=True, timeout_s=1.0)


class DrippingServer:
    """Accepts connections on 127.0.0.1 and drips a valid response one byte every ``interval``
    seconds: each read gets a byte well within any per-read timeout. Bounded: it sends at most
    ``len(response)`` bytes per connection and stops when the test ends (or after ``life`` s)."""

    def __init__(self, response: bytes, interval: float = 0.2, life: float = 30.0):
        self.response, self.interval = response, interval
        self.stop_at = time.monotonic() + life
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:{}/image".format(self.sock.getsockname()[1])

    def _serve(self):
        while not self.stopped.is_set() and time.monotonic() < self.stop_at:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            with conn:
                conn.settimeout(1.0)
                try:
                    conn.recv(65536)  # the request
                    for i in range(len(self.response)):
                        if self.stopped.is_set() or time.monotonic() > self.stop_at:
                            break
                        conn.sendall(self.response[i:i + 1])
                        time.sleep(self.interval)
                except OSError:  # the client gave up: that is the point
                    pass

    def close(self):
        self.stopped.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def dripping():
    servers = []

    def make(response, interval=0.2):
        server = DrippingServer(response, interval)
        servers.append(server)
        return server
    yield make
    for server in servers:
        server.close()


def test_dripped_headers_hit_one_overall_deadline(dripping):
    # 40 header bytes at 0.2 s each would take 8 s; every single read is far under the 1 s timeout.
    server = dripping(b"HTTP/1.1 200 OK\r\nX-Padding: aaaaaaaaaaaa\r\nContent-Length: 5\r\n\r\nimage")
    start = time.monotonic()
    with pytest.raises(FetchFailed, match="longer than 1 s"):
        fetch_url(server.url, LOCAL)
    assert time.monotonic() - start < 2.0


def test_dripped_body_hits_the_same_deadline(dripping):
    server = dripping(b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n" + b"x" * 30, interval=0.02)
    # Headers arrive in ~0.8 s; the 30-byte body would need another 0.6 s.
    start = time.monotonic()
    with pytest.raises(FetchFailed, match="longer than 1 s"):
        fetch_url(server.url, LOCAL)
    assert time.monotonic() - start < 2.0


def test_a_quick_drip_within_the_deadline_still_succeeds(dripping):
    server = dripping(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nimage", interval=0.005)
    assert fetch_url(server.url, FetchPolicy(allow_http=True, allow_private=True, timeout_s=5)) == b"image"


@pytest.mark.parametrize("url", ["https://[127.0.0.1]/", "https://[::1/", "https://[::1]x/", "https://a]b/",
                                 "https://[not-an-address]/dog.jpg"])
def test_malformed_bracketed_hosts_are_refused(url):
    with pytest.raises(FetchRefused, match="malformed URL"):
        url_fetch.check_url(url, FetchPolicy())


@pytest.mark.parametrize("url", ["https://[127.0.0.1]/", "https://[::1/"])
def test_inference_answers_400_for_malformed_ipv6_urls(url):
    with pytest.raises(inference.InferenceError) as info:
        inference.input_fn(json.dumps({"url": url}), "application/json")
    assert info.value.status_code == 400 and info.value.phrase == "Bad Request"
    assert "cannot use the image URL: malformed URL" in info.value.message


def test_malformed_redirect_location_is_refused():
    class Response:
        status = 302

        def getheader(self, name, default=None):
            return "https://[::1/" if name == "Location" else default

    class Conn:
        def request(self, *a, **k):
            pass

        def getresponse(self):
            return Response()

        def close(self):
            pass

    with pytest.raises(FetchRefused, match="malformed"):
        fetch_url("https://images.example.com/a", FetchPolicy(),
                  resolver=lambda host, port, *a: [(2, 1, 6, "", ("93.184.216.34", port))],
                  connect=lambda *a: Conn())


def _eps_bytes():
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buf, "EPS")
    return buf.getvalue()


def test_eps_is_refused_before_pil_parses_it(monkeypatch):
    data = _eps_bytes()
    assert Image.open(io.BytesIO(data)).format == "EPS"  # PIL on its own would take it
    calls = []
    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", lambda self: calls.append(1))
    with pytest.raises(inference.InferenceError) as info:
        inference.decode_image(data)
    assert info.value.status_code == 400 and "not a readable image in an accepted format" in info.value.message
    assert calls == []  # the EPS plugin (and so Ghostscript) was never reached


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"])
def test_allowed_formats_still_decode(fmt):
    buf = io.BytesIO()
    Image.new("RGB", (8, 6), (10, 200, 10)).save(buf, fmt)
    img = inference.decode_image(buf.getvalue())
    assert img.mode == "RGB" and img.size == (8, 6)
