"""Fetch an image by URL for the inference handler without opening a server-side request forgery.

An endpoint that fetches URLs for callers runs inside AWS, next to the instance metadata service
(169.254.169.254) and the VPC. The guard:

* allows https only (``MLOPS_INFERENCE_ALLOW_HTTP=true`` in the model's environment allows http);
* refuses URLs with credentials, and hosts that resolve to any loopback, private, link-local,
  multicast, unspecified, reserved or otherwise non-global address, IPv4 or IPv6, including IPv4
  hidden in IPv6 (``::ffff:127.0.0.1``, 6to4, Teredo, NAT64);
* connects to the address it checked (no second DNS lookup a rebinding server could answer
  differently), while TLS still verifies the certificate for the host name;
* follows at most 3 redirects, checking each target the same way;
* gives up after 10 s for the whole request, redirects included: one deadline covers connect,
  TLS, headers and body (a watchdog shuts the socket when it passes, because socket timeouts
  only bound each read and a server dripping a byte at a time would reset them forever);
* refuses bodies over 10 MB (Content-Length or counted).

Proxies from the environment are deliberately not used: they would bypass the address check.
Everything refused raises FetchRefused; a remote failure raises FetchFailed (both ValueErrors).
"""
from __future__ import annotations

import http.client
import ipaddress
import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

REDIRECT_STATUSES = (301, 302, 303, 307, 308)
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")
MAX_URL_LENGTH = 2048


class FetchRefused(ValueError):
    """The URL is not allowed (scheme, credentials, address, redirects, size)."""


class FetchFailed(ValueError):
    """The remote server could not deliver the image (DNS, connection, status, timeout)."""


@dataclass(frozen=True)
class FetchPolicy:
    allow_http: bool = False
    #: Only for tests against a local server; never read from the environment.
    allow_private: bool = False
    max_redirects: int = 3
    timeout_s: float = 10.0
    max_bytes: int = 10 * 1024 * 1024


def policy_from_env(env=None) -> FetchPolicy:
    env = os.environ if env is None else env
    allow_http = str(env.get("MLOPS_INFERENCE_ALLOW_HTTP", "")).strip().lower() in ("1", "true", "yes")
    return FetchPolicy(allow_http=allow_http)


def forbidden_reason(ip: str):
    """Why ``ip`` must not be contacted, or None when it is a public unicast address."""
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    candidates = [addr]
    if addr.version == 6:
        # IPv4 carried inside IPv6 reaches that IPv4 host: judge it first, so the reason names it.
        embedded = [addr.ipv4_mapped, addr.sixtofour, addr.teredo[1] if addr.teredo else None]
        if addr in NAT64_PREFIX:
            embedded.append(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
        candidates = [a for a in embedded if a is not None] + candidates
    for a in candidates:
        for label, flag in (("loopback", a.is_loopback), ("link-local", a.is_link_local),
                            ("multicast", a.is_multicast), ("unspecified", a.is_unspecified),
                            ("private", a.is_private), ("reserved", a.is_reserved)):
            if flag:
                return "{} address {}".format(label, a)
        if not a.is_global:
            return "non-public address {}".format(a)
    return None


def _split(url: str):
    """urlsplit, with malformed hosts (``https://[::1/``, ``https://[127.0.0.1]/``) refused the same
    way on every Python: newer ones raise ValueError for them, older ones let some through."""
    try:
        parts = urlsplit(url)
        hostname, netloc = parts.hostname, parts.netloc
    except ValueError as err:
        raise FetchRefused("malformed URL: {}".format(err)) from err
    host_port = netloc.rsplit("@", 1)[-1]
    if "[" in host_port or "]" in host_port:
        inside = host_port[host_port.find("[") + 1:host_port.find("]")] if "]" in host_port else ""
        try:
            if not host_port.startswith("[") or "]" not in host_port:
                raise ValueError("unbalanced brackets")
            ipaddress.IPv6Address(inside.split("%", 1)[0])
        except ValueError as err:
            raise FetchRefused("malformed URL: brackets must hold an IPv6 address, got {!r}".format(
                host_port)) from err
    return parts, hostname


def check_url(url: str, policy: FetchPolicy):
    """Validate the URL's shape; returns (scheme, host, port)."""
    if not isinstance(url, str) or not url.strip():
        raise FetchRefused("url must be a non-empty string")
    if len(url) > MAX_URL_LENGTH:
        raise FetchRefused("url is longer than {} characters".format(MAX_URL_LENGTH))
    parts, hostname = _split(url.strip())
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if policy.allow_http else ("https",)
    if scheme not in allowed:
        raise FetchRefused("only {} URLs are allowed, got {!r}".format(" or ".join(allowed), scheme or url))
    if parts.username is not None or parts.password is not None:
        raise FetchRefused("URLs with credentials are not allowed")
    if not hostname:
        raise FetchRefused("the URL has no host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as err:
        raise FetchRefused("bad port in URL: {}".format(err)) from err
    return scheme, hostname, port


def resolve_checked(host: str, port: int, policy: FetchPolicy, resolver=socket.getaddrinfo) -> str:
    """Resolve ``host``; every address must be public (a mixed answer is refused). Returns one."""
    try:
        infos = resolver(host, port, 0, socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as err:
        raise FetchFailed("cannot resolve host {!r}: {}".format(host, err)) from err
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise FetchFailed("host {!r} has no addresses".format(host))
    if not policy.allow_private:
        for ip in addresses:
            reason = forbidden_reason(ip)
            if reason:
                raise FetchRefused("refusing to fetch from {!r}: it resolves to a {}".format(host, reason))
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to a checked IP while sending the real Host header."""

    def __init__(self, host, ip, port, timeout):
        super().__init__(host, port=port, timeout=timeout)
        self._pinned_ip = ip

    def connect(self):
        self.sock = socket.create_connection((self._pinned_ip, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to a checked IP; TLS verifies the certificate against the host name."""

    def __init__(self, host, ip, port, timeout):
        super().__init__(host, port=port, timeout=timeout, context=ssl.create_default_context())
        self._pinned_ip = ip

    def connect(self):
        sock = socket.create_connection((self._pinned_ip, self.port), self.timeout)
        # Handshake after self.sock is set, so the deadline watchdog can shut a stalled handshake.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host, do_handshake_on_connect=False)
        self.sock.do_handshake()


def open_connection(scheme, host, ip, port, timeout):
    cls = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    return cls(host, ip, port, timeout)


class _Watchdog:
    """Shuts the connection's socket when the request's deadline passes.

    Socket timeouts bound each recv, not the request: http.client reads headers a line at a
    time, and a server sending one byte every 2 s never trips a 10 s timeout (issue 19). Shutting
    the socket down from a timer wakes whatever read is blocked, wherever it is."""

    def __init__(self, conn, seconds: float):
        self.conn, self.fired = conn, False
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True

    def _fire(self):
        self.fired = True
        sock = getattr(self.conn, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc):
        self._timer.cancel()
        return False


def fetch_url(url: str, policy: FetchPolicy = FetchPolicy(), resolver=socket.getaddrinfo,
              connect=open_connection) -> bytes:
    """The body at ``url`` under ``policy``; ``resolver`` and ``connect`` are seams for tests."""
    deadline = time.monotonic() + policy.timeout_s
    too_slow = "fetching the image took longer than {:g} s".format(policy.timeout_s)
    for _ in range(policy.max_redirects + 1):
        scheme, host, port = check_url(url, policy)
        ip = resolve_checked(host, port, policy, resolver)
        parts = urlsplit(url.strip())
        target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        conn = watchdog = None
        try:
            conn = connect(scheme, host, ip, port, _remaining(deadline))
            with _Watchdog(conn, _remaining(deadline)) as watchdog:
                conn.request("GET", target, headers={"User-Agent": "mlops-inference/1", "Accept": "image/*"})
                response = conn.getresponse()
                if response.status in REDIRECT_STATUSES:
                    location = response.getheader("Location")
                    if not location:
                        raise FetchFailed("redirect without a Location header from {}".format(host))
                    try:
                        url = urljoin(url, location)
                    except ValueError as err:
                        raise FetchRefused("malformed redirect Location {!r}: {}".format(location, err)) from err
                    continue
                if response.status != 200:
                    raise FetchFailed("the image URL answered HTTP {}".format(response.status))
                body = _read_limited(conn, response, policy.max_bytes, deadline)
            if watchdog.fired:  # the shutdown may read as a clean end of the body
                raise FetchFailed(too_slow)
            return body
        except (socket.timeout, TimeoutError) as err:
            raise FetchFailed(too_slow) from err
        except (ssl.SSLError, http.client.HTTPException, OSError) as err:
            if watchdog is not None and watchdog.fired:
                raise FetchFailed(too_slow) from err
            raise FetchFailed("could not fetch the image from {}: {}".format(host, err)) from err
        finally:
            if conn is not None:
                conn.close()
    raise FetchRefused("more than {} redirects".format(policy.max_redirects))


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise socket.timeout("deadline passed")
    return left


def _read_limited(conn, response, max_bytes: int, deadline: float) -> bytes:
    length = response.getheader("Content-Length")
    if length and length.strip().isdigit() and int(length) > max_bytes:
        raise FetchRefused("the image is larger than {} bytes".format(max_bytes))
    # read1 returns what has arrived instead of waiting for a full buffer, and the socket timeout
    # shrinks to what is left, so a server dripping bytes cannot stretch the 10 s budget.
    read = getattr(response, "read1", response.read)
    chunks, total = [], 0
    while True:
        sock = getattr(conn, "sock", None)
        if sock is not None:
            sock.settimeout(_remaining(deadline))
        else:
            _remaining(deadline)
        chunk = read(min(65536, max_bytes + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if total > max_bytes:
            raise FetchRefused("the image is larger than {} bytes".format(max_bytes))
    return b"".join(chunks)
