"""The SSRF guard of the inference handler's URL fetch. No internet: names resolve through a fake
resolver, remote servers are fakes or a local HTTP server."""
import http.server
import io
import threading
import time

import pytest

import url_fetch
from url_fetch import FetchFailed, FetchPolicy, FetchRefused, fetch_url

PUBLIC = "93.184.216.34"
DNS = {
    "images.example.com": [PUBLIC],
    "internal.example.com": ["10.1.2.3"],
    "metadata.example.com": ["169.254.169.254"],
    "mixed.example.com": [PUBLIC, "192.168.0.10"],
    "v6local.example.com": ["::1"],
    "v6public.example.com": ["2606:4700:4700::1111"],
}


def resolver(host, port, *args):
    if host in DNS:
        return [(2, 1, 6, "", (ip, port)) for ip in DNS[host]]
    import socket
    # IP literals resolve for real (offline); unknown names fail like NXDOMAIN.
    return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)


class FakeResponse:
    def __init__(self, status, body=b"", headers=None):
        self.status, self._body, self._headers = status, io.BytesIO(body), headers or {}

    def getheader(self, name, default=None):
        return self._headers.get(name, default)

    def read(self, n=-1):
        return self._body.read(n)


class FakeServer:
    """Answers by (host, path) and records every connection: a stand-in for the internet."""

    def __init__(self, routes):
        self.routes, self.connections = routes, []

    def connect(self, scheme, host, ip, port, timeout):
        server = self

        class Conn:
            def request(self, method, target, headers):
                self.key = (host, target)

            def getresponse(self):
                return server.routes[self.key]

            def close(self):
                pass

        self.connections.append((scheme, host, ip, port))
        return Conn()


def fetch(url, routes=None, policy=FetchPolicy()):
    server = FakeServer(routes or {})
    return fetch_url(url, policy, resolver=resolver, connect=server.connect), server


@pytest.mark.parametrize("url,reason", [
    ("https://127.0.0.1/dog.jpg", "loopback"),
    ("https://10.0.0.1/dog.jpg", "private"),
    ("https://169.254.169.254/latest/meta-data/iam/security-credentials/", "link-local"),
    ("https://[::1]/dog.jpg", "loopback"),
    ("https://[::ffff:127.0.0.1]/dog.jpg", "127.0.0.1"),
    ("https://[64:ff9b::a9fe:a9fe]/", "169.254.169.254"),  # NAT64 to the metadata service
    ("https://[fe80::1]/", "link-local"),
    ("https://[ff02::1]/", "multicast"),
    ("https://0.0.0.0/", "address 0.0.0.0"),
    ("https://224.0.0.1/", "multicast"),
    ("https://100.64.0.1/", "address 100.64.0.1"),  # carrier-grade NAT, not public
    ("https://internal.example.com/dog.jpg", "private address 10.1.2.3"),
    ("https://metadata.example.com/", "link-local address 169.254.169.254"),
    ("https://mixed.example.com/", "192.168.0.10"),  # one bad answer is enough
    ("https://v6local.example.com/", "loopback"),
])
def test_refuses_non_public_addresses(url, reason):
    with pytest.raises(FetchRefused, match=reason.replace(".", r"\.")) as info:
        fetch(url)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("url,message", [
    ("http://images.example.com/dog.jpg", "only https"),
    ("ftp://images.example.com/dog.jpg", "only https"),
    ("file:///etc/passwd", "only https"),
    ("gopher://127.0.0.1:6379/", "only https"),
    ("https://user:secret@images.example.com/dog.jpg", "credentials"),
    ("https:///dog.jpg", "no host"),
    ("https://images.example.com:99999/", "bad port"),
    ("", "non-empty"),
    ("https://images.example.com/" + "a" * 3000, "longer than"),
])
def test_refuses_bad_urls_before_any_connection(url, message):
    server = FakeServer({})
    with pytest.raises(FetchRefused, match=message):
        fetch_url(url, FetchPolicy(), resolver=resolver, connect=server.connect)
    assert server.connections == []


def test_fetches_a_public_https_url_pinned_to_the_checked_address():
    body, server = fetch("https://images.example.com/dog.jpg",
                         {("images.example.com", "/dog.jpg"): FakeResponse(200, b"JPEGDATA")})
    assert body == b"JPEGDATA"
    assert server.connections == [("https", "images.example.com", PUBLIC, 443)]
    body, server = fetch("https://v6public.example.com/x", {("v6public.example.com", "/x"): FakeResponse(200, b"ok")})
    assert body == b"ok"


def test_redirect_to_a_private_address_is_refused():
    routes = {("images.example.com", "/dog.jpg"): FakeResponse(302, headers={"Location": "https://internal.example.com/x"})}
    with pytest.raises(FetchRefused, match="10.1.2.3"):
        fetch("https://images.example.com/dog.jpg", routes)
    routes = {("images.example.com", "/a"): FakeResponse(301, headers={"Location": "https://169.254.169.254/latest/"})}
    with pytest.raises(FetchRefused, match="link-local"):
        fetch("https://images.example.com/a", routes)
    routes = {("images.example.com", "/a"): FakeResponse(307, headers={"Location": "http://images.example.com/b"})}
    with pytest.raises(FetchRefused, match="only https"):  # a downgrade to http is refused too
        fetch("https://images.example.com/a", routes)


def test_at_most_three_redirects_each_followed():
    routes = {("images.example.com", "/{}".format(i)): FakeResponse(302, headers={"Location": "/{}".format(i + 1)})
              for i in range(5)}
    routes[("images.example.com", "/3")] = FakeResponse(200, b"three hops")
    body, server = fetch("https://images.example.com/0", routes)
    assert body == b"three hops" and len(server.connections) == 4
    routes[("images.example.com", "/3")] = FakeResponse(302, headers={"Location": "/4"})
    routes[("images.example.com", "/4")] = FakeResponse(200, b"four hops")
    with pytest.raises(FetchRefused, match="more than 3 redirects"):
        fetch("https://images.example.com/0", routes)


def test_size_limit_by_header_and_by_counting():
    policy = FetchPolicy(max_bytes=100)
    big = FakeResponse(200, b"x" * 50, {"Content-Length": "5000"})
    with pytest.raises(FetchRefused, match="larger than 100 bytes"):
        fetch("https://images.example.com/big", {("images.example.com", "/big"): big}, policy)
    unannounced = FakeResponse(200, b"x" * 101)
    with pytest.raises(FetchRefused, match="larger than 100 bytes"):
        fetch("https://images.example.com/big", {("images.example.com", "/big"): unannounced}, policy)
    exact = FakeResponse(200, b"x" * 100)
    assert len(fetch("https://images.example.com/ok", {("images.example.com", "/ok"): exact}, policy)[0]) == 100
    assert FetchPolicy().max_bytes == 10 * 1024 * 1024 and FetchPolicy().timeout_s == 10


def test_http_errors_and_unknown_hosts_fail_cleanly():
    with pytest.raises(FetchFailed, match="HTTP 404"):
        fetch("https://images.example.com/nope", {("images.example.com", "/nope"): FakeResponse(404)})
    with pytest.raises(FetchFailed, match="cannot resolve"):
        fetch("https://no-such-host.invalid/")


def test_http_allowed_only_by_the_model_environment():
    assert url_fetch.policy_from_env({}).allow_http is False
    assert url_fetch.policy_from_env({"MLOPS_INFERENCE_ALLOW_HTTP": "true"}).allow_http is True
    body, _ = fetch("http://images.example.com/d", {("images.example.com", "/d"): FakeResponse(200, b"ok")},
                    FetchPolicy(allow_http=True))
    assert body == b"ok"
    with pytest.raises(FetchRefused, match="loopback"):  # http does not loosen the address check
        fetch("http://127.0.0.1/", policy=FetchPolicy(allow_http=True))


@pytest.mark.parametrize("ip,bad", [
    ("8.8.8.8", False), ("2606:4700:4700::1111", False), ("127.0.0.1", True), ("10.255.0.1", True),
    ("172.16.5.4", True), ("192.168.1.1", True), ("169.254.169.254", True), ("::1", True), ("::", True),
    ("fc00::1", True), ("fe80::1%eth0", True), ("::ffff:10.0.0.1", True), ("2002:7f00:1::", True),
    ("fd00:ec2::254", True),  # the IPv6 instance metadata address
])
def test_forbidden_reason(ip, bad):
    assert (url_fetch.forbidden_reason(ip) is not None) is bad


# ---------------------------------------------------------------- the real socket code path


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/image")
            self.end_headers()
        elif self.path == "/image":
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"image")
        elif self.path == "/stream":  # no Content-Length: the limit has to count
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"y" * 5000)
        elif self.path == "/slow":
            self.send_response(200)
            self.end_headers()
            for _ in range(20):
                self.wfile.write(b"z")
                self.wfile.flush()
                time.sleep(0.1)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:{}".format(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_real_connection_redirect_limit_and_deadline(local_server):
    # The default policy refuses the local server outright...
    with pytest.raises(FetchRefused):
        fetch_url(local_server + "/image")
    # ...a test-only policy lets the real pinned connection, redirects and limits run.
    lenient = FetchPolicy(allow_http=True, allow_private=True, max_bytes=1000, timeout_s=5)
    assert fetch_url(local_server + "/redirect", lenient) == b"image"
    with pytest.raises(FetchRefused, match="larger than 1000"):
        fetch_url(local_server + "/stream", lenient)
    start = time.monotonic()
    with pytest.raises(FetchFailed, match="longer than 0.5 s"):  # a dripping server cannot stall us
        fetch_url(local_server + "/slow", FetchPolicy(allow_http=True, allow_private=True, timeout_s=0.5))
    assert time.monotonic() - start < 1.5
