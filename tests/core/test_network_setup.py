"""Proxies, CA bundles and the connection diagnosis, over real loopback sockets: a counting
HTTP proxy, a TLS server with its own certificate authority, a socket that does not speak TLS."""

from __future__ import annotations

import http.client
import http.server
import json
import shutil
import socket
import ssl
import subprocess
import threading
from urllib.parse import urlsplit

import pytest

from tests.media import png_bytes
from tests.standin.fixtures import standin  # noqa: F401
from yvo3d_addon.core import errors
from yvo3d_addon.core.client import MODEL_ID, RetryPolicy, ScenarioClient
from yvo3d_addon.core.diagnose import diagnose

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
CA_VARS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")


@pytest.fixture(autouse=True)
def clean_network_env(monkeypatch):
    """No proxy or CA setting from the machine running the tests leaks in."""
    for name in PROXY_VARS + CA_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def make_client(base_url, key="test-key", secret="test-secret", verify=True):
    return ScenarioClient(
        base_url,
        key,
        secret,
        retry=RetryPolicy(attempts=1),
        timeout=(2.0, 5.0),
        verify=verify,
    )


def serve(handler_class, context=None):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    server.daemon_threads = True
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    return server


def stop(server):
    server.shutdown()
    server.server_close()


class CountingProxy(http.server.BaseHTTPRequestHandler):
    """A forward proxy for plain http (absolute-form request lines), counting what it relays."""

    seen: list[tuple[str, str, str]] = []

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        pass

    def relay(self):
        target = urlsplit(self.path)
        type(self).seen.append(
            (self.command, self.path, self.headers.get("Proxy-Authorization", ""))
        )
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        skip = {"proxy-connection", "proxy-authorization", "connection", "host"}
        headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        path = target.path + (f"?{target.query}" if target.query else "")
        conn.request(self.command, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        self.send_response(resp.status)
        for name, value in resp.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.relay()

    def do_POST(self):
        self.relay()


@pytest.fixture
def proxy():
    CountingProxy.seen = []
    server = serve(CountingProxy)
    yield server, CountingProxy.seen
    stop(server)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- proxies -------------------------------------------------------------------------------------


def test_a_proxy_from_the_environment_carries_every_request(standin, proxy, monkeypatch, tmp_path):  # noqa: F811
    server, seen = proxy
    photo = tmp_path / "photo.png"
    photo.write_bytes(png_bytes(96, 96))
    port = server.server_address[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://builder:hunter2@127.0.0.1:{port}")
    client = make_client(standin.base_url)
    assert client.get_model()["model"]["id"] == MODEL_ID
    assert client.estimate({"images": [client.upload_image(str(photo))]}).cost == 40
    relayed = [(method, urlsplit(url).path) for method, url, _ in seen]
    assert relayed == [
        ("GET", f"/v1/models/{MODEL_ID}"),
        ("POST", "/v1/assets"),
        ("POST", f"/v1/generate/custom/{MODEL_ID}"),
    ]
    assert all(auth.startswith("Basic ") for _, _, auth in seen), "proxy credentials sent"
    assert standin.count("model") == 1 and standin.count("estimate") == 1

    ok, text = diagnose(client)
    assert ok, text
    assert f"through the proxy http://127.0.0.1:{port}" in text
    assert "hunter2" not in text and "builder" not in text

    # NO_PROXY is honoured as requests reads it: the stand-in is then reached directly.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    before = len(seen)
    client.get_model()
    assert len(seen) == before and standin.count("model") == 3


def test_a_proxy_that_does_not_answer_is_named(standin, monkeypatch):  # noqa: F811
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    ok, text = diagnose(make_client(standin.base_url))
    assert not ok
    assert text.startswith("Proxy:") and "HTTP_PROXY" in text
    assert standin.count("model") == 0


# -- TLS and CA bundles --------------------------------------------------------------------------


class GarbageTLS:
    """A loopback socket that answers a TLS handshake with plain text."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(4096)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nnot tls")
                except OSError:
                    pass

    def close(self):
        self.stopped = True
        self.sock.close()


def test_a_server_that_does_not_speak_tls_is_reported_as_tls(tmp_path):
    garbage = GarbageTLS()
    try:
        bundle = tmp_path / "company-ca.pem"
        bundle.write_text("placeholder")  # never reached: the handshake fails first
        client = make_client(f"https://127.0.0.1:{garbage.port}/v1", verify=str(bundle))
        assert client.session.verify == str(bundle)
        ok, text = diagnose(client)
        assert not ok and text.startswith("TLS:"), text
        with pytest.raises(errors.NetworkError) as info:
            client.get_model()
        assert "SSL" in info.value.message
    finally:
        garbage.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A certificate authority of our own and a server certificate for 127.0.0.1 it signed."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")

    def run(*args):
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    run(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=YVO3D test CA",
        "-keyout", "ca.key", "-out", "ca.pem", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign",
    )  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
        "-out", "server.csr")  # fmt: skip
    (folder / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-out", "server.pem", "-extfile", "ext.cnf")  # fmt: skip
    return folder


class ModelRecord(http.server.BaseHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        pass

    def do_GET(self):
        if self.path == f"/v1/models/{MODEL_ID}" and self.headers.get("Authorization"):
            status, body = 200, {"model": {"id": MODEL_ID, "name": "YVO3D over TLS"}}
        else:
            status, body = 404, {"reason": "not found"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_a_ca_bundle_from_the_preferences_is_what_makes_tls_work(certificate):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate / "server.pem", certificate / "server.key")
    server = serve(ModelRecord, context)
    url = f"https://127.0.0.1:{server.server_address[1]}/v1"
    try:
        ok, text = diagnose(make_client(url))
        assert not ok and text.startswith("TLS:") and "not trusted" in text
        assert "CA bundle" in text and "Advanced" in text

        bundle = str(certificate / "ca.pem")
        client = make_client(url, verify=bundle)
        assert client.session.verify == bundle
        ok, text = diagnose(client)
        assert ok, text
        assert "YVO3D over TLS" in text
        assert client.get_model()["model"]["name"] == "YVO3D over TLS"
    finally:
        stop(server)


def test_a_missing_ca_bundle_file_is_named(tmp_path):
    missing = str(tmp_path / "nowhere.pem")
    ok, text = diagnose(make_client("https://127.0.0.1:9/v1", verify=missing))
    assert not ok and text.startswith("TLS:") and "nowhere.pem" in text


# -- what the diagnosis says for each failure ----------------------------------------------------


def test_connected_with_the_model_name(standin):  # noqa: F811
    ok, text = diagnose(make_client(standin.base_url))
    assert ok and text.startswith("Connected to 127.0.0.1"), text


@pytest.mark.parametrize(
    ("status", "label"),
    [(401, "Authentication"), (403, "Permission"), (402, "Credits"), (500, "Service")],
)
def test_service_refusals_are_named(standin, status, label):  # noqa: F811
    standin.fault("model", status=status)
    ok, text = diagnose(make_client(standin.base_url))
    assert not ok and text.startswith(f"{label} ({status}):"), text


def test_a_wrong_secret_is_an_authentication_failure_without_the_secret(standin):  # noqa: F811
    ok, text = diagnose(make_client(standin.base_url, secret="wrong-secret-value"))
    assert not ok and text.startswith("Authentication (401):")
    assert "wrong-secret-value" not in text


def test_a_wrong_service_path_is_a_404_hint(standin):  # noqa: F811
    ok, text = diagnose(make_client(standin.root_url + "/v2"))
    assert not ok and "/v1" in text and "404" in text


def test_a_closed_port_is_a_refused_connection():
    ok, text = diagnose(make_client(f"http://127.0.0.1:{free_port()}/v1"))
    assert not ok and text.startswith("Connection:") and "refused" in text


def test_a_name_that_does_not_resolve_is_dns(monkeypatch):
    real = socket.getaddrinfo

    def resolver(host, *args, **kwargs):
        # No query leaves the machine: names under .invalid fail here, as a resolver would.
        if str(host).endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    ok, text = diagnose(make_client("https://api.scenario.invalid/v1"))
    assert not ok and text.startswith("DNS:") and "api.scenario.invalid" in text
    # Behind a proxy only the proxy's name must resolve here.
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp.invalid:3128")
    ok, text = diagnose(make_client("https://api.cloud.scenario.com/v1"))
    assert not ok and text.startswith("DNS:") and "proxy.corp.invalid" in text
