"""The page's server: addresses, its own thread beside the loop (no signal handlers of its own), a
busy port or a bad certificate in one sentence, TLS, and `assistant web` as a real process."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
from argparse import Namespace
from http.cookies import SimpleCookie

import httpx
import pytest
from starlette.routing import Route

from assistant.commands.web import tls_files
from assistant.errors import AssistantError
from assistant.web.app import create_app
from assistant.web.security import COOKIE, Guard
from assistant.web.server import WebServer, is_loopback, parse_address

from .conftest import IMAGES, ROOT
from .web_serving import served, web_context


@pytest.mark.parametrize(("text", "expected"), [
    ("8080", ("127.0.0.1", 8080)), ("0.0.0.0:8080", ("0.0.0.0", 8080)), ("[::1]:8080", ("::1", 8080)),
    ("localhost:0", ("localhost", 0)), (" 9000 ", ("127.0.0.1", 9000)),
])
def test_an_address_is_host_and_port(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["", "http", "80a", "70000", ":8080", "::1:8080", "host:", "a b:80", "-1"])
def test_a_bad_address_is_one_sentence(text: str) -> None:
    with pytest.raises(AssistantError) as caught:
        parse_address(text)
    message = str(caught.value)
    assert message.startswith("--web ") and message.endswith(".") and "\n" not in message


def test_loopback_is_this_machine_only() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.9.9.9", "::1", "localhost", "LOCALHOST"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "192.168.1.2", "example.com", "127.0.0.1.evil.example"]))


def test_the_server_runs_on_its_own_thread_and_leaves_the_signals_alone() -> None:
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    with served(Guard()) as server:
        assert server.port > 0 and server.url == f"http://127.0.0.1:{server.port}/"
        assert [t for t in threading.enumerate() if t.name == "web" and t.daemon]
        response = httpx.get(server.url + "api/session")
        assert response.status_code == 200 and "csrf" in response.json()
        assert {signum: signal.getsignal(signum) for signum in handlers} == handlers
    assert not [t for t in threading.enumerate() if t.name == "web"]
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "api/session")


def test_a_busy_port_is_one_sentence() -> None:
    with served(Guard()) as first:
        second = WebServer(lambda *a: None, "127.0.0.1", first.port)
        with pytest.raises(AssistantError, match=r"^Cannot serve the page at 127\.0\.0\.1:\d+: the port is in use"):
            second.start()
    with pytest.raises(AssistantError, match="no such host name"):
        WebServer(lambda *a: None, "no-such-host.invalid", 0).start()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-days", "1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_tls_serves_over_https_with_a_secure_cookie(certificate: tuple) -> None:
    cert, key = certificate
    with served(Guard(), certfile=cert, keyfile=key) as server:
        assert server.url.startswith("https://127.0.0.1:")
        trusted = ssl.create_default_context(cafile=str(cert))
        response = httpx.get(server.url + "api/session", verify=trusted)
        assert response.status_code == 200
        morsel = SimpleCookie(response.headers["set-cookie"])[COOKIE]
        assert morsel["secure"] and morsel["httponly"] and morsel["samesite"].lower() == "strict"
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(f"http://127.0.0.1:{server.port}/api/session")  # plain HTTP to a TLS port


def test_a_bad_certificate_is_one_sentence(certificate: tuple, tmp_path) -> None:
    cert, key = certificate
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    for pair in ((garbage, key), (cert, garbage), (key, cert)):
        with pytest.raises(AssistantError, match=r"^Cannot serve the page over TLS: .*\.$"):
            WebServer(lambda *a: None, "127.0.0.1", 0, *pair).start()
    with pytest.raises(AssistantError, match="both --web-cert and --web-key"):
        tls_files(Namespace(web_cert=str(cert), web_key=None))
    with pytest.raises(AssistantError, match=r"^--web-key .*missing\.pem: cannot read it \(No such file"):
        tls_files(Namespace(web_cert=str(cert), web_key=str(tmp_path / "missing.pem")))
    assert tls_files(Namespace(web_cert=None, web_key=None)) == (None, None)


def _start_web(*args: str) -> tuple[subprocess.Popen, str]:
    """`assistant web ARGS` as a process, and the URL it printed once it serves."""
    process = subprocess.Popen([sys.executable, "-m", "assistant", "web", *args], cwd=ROOT, env=dict(os.environ),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    timer = threading.Timer(60, process.kill)
    timer.start()
    try:
        for line in process.stderr:
            if "The caregiver's page is at " in line:
                return process, line.rpartition(" at ")[2].strip()
    finally:
        timer.cancel()
    raise AssertionError(f"assistant web never said where it serves: exit {process.wait()}")


def test_assistant_web_serves_until_sigterm_then_exits_0() -> None:
    process, url = _start_web("--web", "127.0.0.1:0")
    try:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/") and not url.endswith(":0/")
        routes = {route.path for route in create_app(web_context(), Guard()).routes if isinstance(route, Route)}
        first = httpx.get(url, follow_redirects=False)
        assert first.status_code == (200 if "/" in routes else 404), "the live view's page, once it is there"
        assert "content-security-policy" in first.headers
        assert httpx.get(url + "static/style.css").status_code == 200
        assert httpx.get(url + "api/session").json()["csrf"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert process.stderr.read() == ""
    finally:
        process.kill()
        process.wait()


def test_assistant_web_exits_130_on_ctrl_c() -> None:
    process, _ = _start_web("--web", "127.0.0.1:0")
    try:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130
    finally:
        process.kill()
        process.wait()


def test_assistant_web_on_a_busy_port_or_a_bad_address_is_one_sentence_and_exit_2(cli) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "assistant", "web", "--web", f"127.0.0.1:{port}"],
                                cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr == f"error: Cannot serve the page at 127.0.0.1:{port}: the port is in use; choose another with --web.\n"
    bad = cli("web", "--web", "localhost:99999")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "is not [HOST:]PORT" in bad.stderr
    half = cli("web", "--web-cert", "cert.pem")
    assert half.returncode == 2 and "both --web-cert and --web-key" in half.stderr


def test_web_page_serves_for_the_block_and_pairs_beyond_loopback(monkeypatch, capsys) -> None:
    """The contract `run --web` is built on. Beyond loopback is never bound here: the test makes
    127.0.0.1 count as not loopback, so the pairing path runs on this machine only."""
    from assistant.commands.web import web_page

    ctx = web_context()
    with web_page(Namespace(web=None), ctx, lambda text: None) as nothing:
        assert nothing is None
    with pytest.raises(AssistantError, match=r"add --web \[HOST:\]PORT\.$"):
        with web_page(Namespace(web=None, web_cert="cert.pem", web_key=None), ctx, lambda text: None):
            pass
    with web_page(Namespace(web="127.0.0.1:0", web_cert=None, web_key=None), ctx, lambda text: None) as server:
        assert httpx.get(server.url + "api/session").status_code == 200
    assert capsys.readouterr().err == f"The caregiver's page is at {server.url}\n"
    monkeypatch.setattr("assistant.web.server.is_loopback", lambda host: False)
    said: list[str] = []
    with web_page(Namespace(web="127.0.0.1:0", web_cert=None, web_key=None), ctx, said.append) as server:
        assert httpx.get(server.url + "try").headers["location"] == "/pair"
        code = "".join(c for c in said[0] if c.isdigit())
        assert said == [f"Pairing code for the caregiver's page: {', '.join(code)}."]
        printed = capsys.readouterr().err.splitlines()
        assert printed == [f"The caregiver's page is at {server.url} (type the pairing code there).",
                           f"Pairing code for the caregiver's page: {code} (for 10 minutes)."]
        paired = httpx.post(server.url + "api/pair", json={"code": code})
        assert paired.status_code == 200 and paired.cookies[COOKIE]
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url)


def test_a_run_without_the_page_never_loads_the_web_stack() -> None:
    """Without --web, run imports none of the server's libraries: they would lengthen the loading
    that a signal (a stopped service) must wait for, on every run."""
    script = ("import sys; from assistant.cli import main; "
              f"code = main(['run', '--source', {str(IMAGES / 'yolov5_bus.jpg')!r}, '--speech', 'none']); "
              "print(code, sorted({m.split('.')[0] for m in sys.modules} & {'starlette', 'uvicorn', 'ruamel', 'multipart'}))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.stdout.split("\n")[-2] == "0 []", result.stdout + result.stderr
