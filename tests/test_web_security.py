"""Who may use the caregiver's page: sessions, CSRF, Origin and Host, pairing and its rate limits,
path traversal in every route's parameters, the body limit and the security headers. Every route of
the app is enumerated, so the live view's and the editor's routes are covered as they are added."""

from __future__ import annotations

import json
import re
import time
from http.cookies import SimpleCookie

import pytest
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from assistant.web.app import create_app
from assistant.web.pairing import FIRST_WAIT_S, NEW_CODE_EVERY_S, CODE_TTL_S
from assistant.web.security import COOKIE, PAIRING_PATHS, PUBLIC_PATHS, Guard, GuardMiddleware

from .web_serving import Clock, raw_request, served, web_context

BASE = "http://127.0.0.1:8080"
ORIGIN = {"Origin": BASE}
SOCKET = "ws://127.0.0.1:8080/api/socket"
PAGES = ("/", "/profile", "/try")


@pytest.fixture(scope="module")
def ctx():
    return web_context()


def pairing_guard(said: list[str] | None = None, clock: Clock | None = None, **options) -> Guard:
    """A guard that pairs, its code said into `said`."""
    spoken = said if said is not None else []
    return Guard(pairing=True, say=spoken.append, note=lambda text: None, clock=clock or Clock(), **options)


def said_code(said: list[str]) -> str:
    """The code in the last sentence said, its digits read one by one ('4, 8, 1, ...')."""
    return re.sub(r"\D", "", said[-1].rpartition(":")[2])


def app_routes(ctx, guard: Guard) -> list[tuple[str, str]]:
    """(method, path) for every route of the app, a path parameter filled with a plain value."""
    found = []
    for route in create_app(ctx, guard).routes:
        if isinstance(route, Route):
            path = re.sub(r"\{[^}]+\}", "x", route.path)
            found += [(method, path) for method in sorted(route.methods or ()) if method != "HEAD"]
    return found


def test_every_api_route_and_page_needs_pairing_beyond_loopback(ctx) -> None:
    client = TestClient(create_app(ctx, pairing_guard()), base_url=BASE, follow_redirects=False)
    routes = app_routes(ctx, pairing_guard())
    assert ("POST", "/api/pair") in routes and ("GET", "/api/session") in routes
    for method, path in routes:
        response = client.request(method, path, headers={**ORIGIN, "Content-Type": "application/json"}, content=b"{}")
        if path in PUBLIC_PATHS:
            assert response.status_code < 500, (method, path)
        elif path.startswith("/api/") or method not in ("GET", "HEAD"):
            assert response.status_code == 401, (method, path, response.text)
            assert set(response.json()) == {"error"}
        else:
            assert (response.status_code, response.headers["location"]) == (303, "/pair"), (method, path)
    for page in PAGES:  # the pages the other helpers add, before they are there too
        response = client.get(page)
        assert (response.status_code, response.headers["location"]) == (303, "/pair"), page
    assert client.get("/api/session").status_code == 401
    assert client.get("/pair").status_code == 200 and "Pairing code" in client.get("/pair").text


def test_every_state_changing_route_needs_a_session_and_its_token_on_loopback(ctx) -> None:
    guard = Guard()
    client = TestClient(create_app(ctx, guard), base_url=BASE, follow_redirects=False)
    changing = [(m, p) for m, p in app_routes(ctx, guard) if m not in ("GET", "HEAD", "OPTIONS") and p not in PAIRING_PATHS]
    changing += [("DELETE", "/api/session"), ("PUT", "/static/style.css"), ("POST", "/no-such-page")]
    for method, path in changing:
        assert client.request(method, path, headers=ORIGIN).status_code == 401, (method, path)
    token = client.get("/api/session").json()["csrf"]
    for method, path in changing:
        assert client.request(method, path, headers=ORIGIN).status_code == 403, (method, path)
        assert client.request(method, path, headers={**ORIGIN, "X-CSRF-Token": "forged"}).status_code == 403
        cross = client.request(method, path, headers={"Origin": "http://evil.example", "X-CSRF-Token": token})
        assert cross.status_code == 403 and "another site" in cross.json()["error"], (method, path)
    small = TestClient(create_app(ctx, Guard(max_body_bytes=1024)), base_url=BASE)
    small_token = small.get("/api/session").json()["csrf"]
    for method, path in [*changing, *[(m, p) for m, p in app_routes(ctx, guard) if p in PAIRING_PATHS]]:
        response = small.request(method, path, content=b"x" * 1025, headers={**ORIGIN, "X-CSRF-Token": small_token})
        assert response.status_code == 413, (method, path)


def test_a_cross_site_post_is_refused_even_with_the_session_and_token(ctx) -> None:
    guard = pairing_guard(said := [])
    client = TestClient(create_app(ctx, guard), base_url=BASE)
    guard.announce()
    paired = client.post("/api/pair", json={"code": said_code(said)}, headers=ORIGIN)
    token = paired.json()["csrf"]
    for origin in ("http://evil.example", "null", "https://127.0.0.1:8080", "http://127.0.0.1:8081"):
        response = client.post("/api/pair/new", json={}, headers={"Origin": origin, "X-CSRF-Token": token})
        assert response.status_code == 403, origin
        response = client.post("/api/pair", json={"code": "123456"}, headers={"Origin": origin})
        assert response.status_code == 403, origin


def test_loopback_answers_only_to_a_loopback_host_name(ctx) -> None:
    """DNS rebinding: a site whose name resolves to 127.0.0.1 must not get a session."""
    app = create_app(ctx, Guard())
    for base in ("http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080", "http://127.3.4.5"):
        assert TestClient(app, base_url=base).get("/api/session").status_code == 200, base
    for base in ("http://evil.example:8080", "http://192.168.1.20:8080", "http://127.0.0.1.evil.example"):
        response = TestClient(app, base_url=base).get("/api/session")
        assert response.status_code == 403 and COOKIE not in response.cookies, base


def test_twenty_wrong_codes_are_refused_and_rate_limited_then_the_right_one_waits(ctx) -> None:
    clock = Clock()
    guard = pairing_guard(said := [], clock)
    client = TestClient(create_app(ctx, guard), base_url=BASE, follow_redirects=False)
    guard.announce()
    code = said_code(said)
    assert len(code) == 6 and said[-1].endswith(", ".join(code) + ".")
    wrong = f"{(int(code) + 1) % 10 ** 6:06d}"
    started = time.monotonic()
    statuses = []
    for _ in range(20):
        response = client.post("/api/pair", json={"code": wrong}, headers=ORIGIN)
        statuses.append(response.status_code)
        assert COOKIE not in response.cookies and "csrf" not in response.json()
    assert time.monotonic() - started < 2.0, "refusing must never slow the server"
    assert statuses[:4] == [401] * 4 and set(statuses[4:]) == {429}
    right = client.post("/api/pair", json={"code": code}, headers=ORIGIN)
    assert right.status_code == 429 and COOKIE not in right.cookies
    assert int(right.headers["retry-after"]) == FIRST_WAIT_S
    clock.now += FIRST_WAIT_S - 1
    assert client.post("/api/pair", json={"code": code}, headers=ORIGIN).status_code == 429
    clock.now += 1
    again = client.post("/api/pair", json={"code": wrong}, headers=ORIGIN)  # one more wrong: the wait doubles
    assert again.status_code == 429 and int(again.headers["retry-after"]) == 2 * FIRST_WAIT_S
    clock.now += 2 * FIRST_WAIT_S
    paired = client.post("/api/pair", json={"code": code}, headers=ORIGIN)
    assert paired.status_code == 200
    cookie = SimpleCookie(paired.headers["set-cookie"])[COOKIE]
    assert cookie["httponly"] and cookie["samesite"].lower() == "strict" and not cookie["secure"]
    assert client.get("/api/session").json() == paired.json()
    assert client.get("/pair", follow_redirects=False).headers["location"] == "/"
    used = TestClient(create_app(ctx, guard), base_url=BASE).post("/api/pair", json={"code": code}, headers=ORIGIN)
    assert used.status_code == 410, "a code pairs once"


def test_a_code_expires_and_a_new_one_is_said_at_most_every_half_minute(ctx) -> None:
    clock = Clock()
    guard = pairing_guard(said := [], clock)
    client = TestClient(create_app(ctx, guard), base_url=BASE)
    guard.announce()
    first = said_code(said)
    clock.now += CODE_TTL_S
    expired = client.post("/api/pair", json={"code": first}, headers=ORIGIN)
    assert expired.status_code == 410 and "new code" in expired.json()["error"]
    assert client.post("/api/pair/new", json={}, headers=ORIGIN).status_code == 200 and len(said) == 2
    refused = client.post("/api/pair/new", json={}, headers=ORIGIN)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) == NEW_CODE_EVERY_S and len(said) == 2
    clock.now += NEW_CODE_EVERY_S
    assert client.post("/api/pair/new", json={}, headers=ORIGIN).status_code == 200 and len(said) == 3
    for bad in ({"code": 123}, {"code": "12ab56"}, {}, [1]):
        assert client.post("/api/pair", json=bad, headers=ORIGIN).status_code == 400, bad
    form = client.post("/api/pair", data={"code": said_code(said)}, headers=ORIGIN)
    assert form.status_code == 415, "a form a cross-site page could send without a preflight"
    assert client.post("/api/pair", json={"code": said_code(said)}, headers=ORIGIN).status_code == 200


def test_every_response_carries_the_security_headers(ctx) -> None:
    client = TestClient(create_app(ctx, Guard()), base_url=BASE)
    for path in ("/api/session", "/static/style.css", "/no-such-page", "/pair"):
        response = client.get(path, follow_redirects=False)
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert (response.headers.get("cache-control") == "no-store") != path.startswith("/static/"), path
    refused = client.post("/api/session", headers={"Origin": "http://evil.example"})
    assert "content-security-policy" in refused.headers


def test_every_error_is_a_json_sentence_never_a_traceback(ctx) -> None:
    app = create_app(ctx, Guard())

    def broken(request):
        raise RuntimeError("a secret detail /home/user/profile.yaml")

    app.router.routes.append(Route("/api/broken", broken))
    client = TestClient(app, base_url=BASE, raise_server_exceptions=False)
    token = client.get("/api/session").json()["csrf"]
    assert client.get("/no-such-page").json() == {"error": "There is nothing at this address."}
    wrong_method = client.delete("/api/session", headers={"X-CSRF-Token": token})
    assert wrong_method.status_code == 405 and wrong_method.json()["error"].endswith("kind of request.")
    failed = client.get("/api/broken")
    assert failed.status_code == 500 and failed.json() == {"error": "The assistant could not answer this request."}


TRAVERSALS = [b"../../../../../../etc/passwd", b"..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
              b"%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", b"%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
              b"/etc/passwd", b"%2fetc%2fpasswd", b"..%5c..%5c..%5cetc%5cpasswd", b"x%00.yaml", b"..%00/passwd",
              b"%252e%252e%252fetc%252fpasswd"]
QUERY_NAMES = [b"path", b"file", b"name", b"profile", b"image", b"source", b"model"]


def test_path_traversal_in_every_parameter_is_refused_and_never_reaches_a_file(ctx) -> None:
    """Path parameters and the static mount get 4xx; a query parameter that names a file, under any
    name a route might read, never brings back a file outside the package."""
    guard = Guard()
    app = create_app(ctx, guard)
    with served(guard, ctx) as server:
        status, body = raw_request(server.port, b"/api/session")
        cookie = {b"Cookie": b"%s=%s" % (COOKIE.encode(), _cookie_value(server.port))}
        templates = [route.path for route in app.routes if isinstance(route, Route) and "{" in route.path]
        templates += [f"{route.path}/{{path}}" for route in app.routes if isinstance(route, Mount)]
        assert "/static/{path}" in templates
        for template in templates:
            for attack in TRAVERSALS:
                target = re.sub(r"\{[^}]+\}", attack.decode(), template).encode()
                status, body = raw_request(server.port, target, headers=cookie)
                assert 400 <= status < 500, (target, status)
                assert b"root:" not in body
        for method, path in app_routes(ctx, guard):
            if method != "GET":
                continue
            for name in QUERY_NAMES:
                for attack in TRAVERSALS:
                    status, body = raw_request(server.port, path.encode() + b"?" + name + b"=" + attack, headers=cookie)
                    assert status != 500 and b"root:" not in body, (path, name, attack, status)


def _cookie_value(port: int) -> bytes:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/api/session")
    response = connection.getresponse()
    value = SimpleCookie(response.getheader("set-cookie"))[COOKIE].value
    connection.close()
    return value.encode()


def test_an_oversized_body_is_413_declared_or_streamed(ctx) -> None:
    guard = pairing_guard(said := [], max_body_bytes=1024)
    guard.announce()
    with served(guard, ctx) as server:
        json_headers = {b"Content-Type": b"application/json", b"Origin": b"http://127.0.0.1:%d" % server.port}
        status, body = raw_request(server.port, b"/api/pair", b"POST", json_headers, b"x" * 2000)
        assert status == 413 and "too large" in json.loads(body)["error"]
        chunked = {**json_headers, b"Transfer-Encoding": b"chunked"}
        stream = b"".join(b"%x\r\n%s\r\n" % (400, b" " * 400) for _ in range(4)) + b"0\r\n\r\n"
        status, body = raw_request(server.port, b"/api/pair", b"POST", chunked, b"5\r\n{\"a\"\r\n0\r\n\r\n")
        assert status == 400, "a short streamed body reaches the route"
        status, body = raw_request(server.port, b"/api/pair", b"POST", chunked, stream)
        assert status == 413, body
        status, _ = raw_request(server.port, b"/api/pair", b"POST", json_headers, json.dumps({"code": said_code(said)}).encode())
        assert status == 200, "the server still pairs afterwards"
    big = TestClient(create_app(ctx, Guard()), base_url=BASE)
    token = big.get("/api/session").json()["csrf"]
    response = big.post("/api/pair/new", content=b"x" * (22 * 1024 * 1024), headers={**ORIGIN, "X-CSRF-Token": token})
    assert response.status_code == 413 and response.json()["error"].endswith("at most 21 MB.")


def test_the_pair_page_in_a_browser_on_a_phone(ctx) -> None:
    """Keyboard only, on a phone-sized screen: a wrong code is said in the alert region, the right one
    pairs and opens the page; axe finds nothing serious."""
    from .web_browser import PHONE, browser, screenshot, serious_violations

    guard = pairing_guard(said := [])
    guard.announce()
    with served(guard, ctx) as server, browser() as chromium:
        page = chromium.new_page(viewport=PHONE)
        problems: list[str] = []  # a CSP refusal is only a console error: the page just looks or acts wrong
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.goto(server.url + "profile")
        assert page.url == server.url + "pair" and page.title().startswith("Pair this browser")
        assert serious_violations(page) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "no sideways scrolling"
        screenshot(page, "pair-phone")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "code"
        page.keyboard.type("12")
        page.keyboard.press("Enter")
        alert = page.get_by_role("alert")
        assert alert.inner_text() == "Type the six digits of the code."
        assert page.get_attribute("#code", "aria-invalid") == "true"
        page.fill("#code", f"{(int(said_code(said)) + 1) % 10 ** 6:06d}")
        page.keyboard.press("Enter")
        page.wait_for_selector("#pair-error:has-text('That is not the code')")  # no wait_for_function: the CSP forbids eval
        assert serious_violations(page) == []
        screenshot(page, "pair-phone-wrong-code")
        assert not [p for p in problems if "Content Security Policy" in p or "violates" in p], problems
        page.fill("#code", " ".join([said_code(said)[:3], said_code(said)[3:]]))
        page.keyboard.press("Enter")
        page.wait_for_url(server.url)
        cookie = next(c for c in page.context.cookies() if c["name"] == COOKIE)
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        page.goto(server.url + "pair")
        assert page.url == server.url, "a paired browser goes straight to the page"


def test_a_websocket_needs_a_session_and_its_own_origin(ctx) -> None:
    """No route uses one yet; one added later is guarded all the same (no CSRF token can ride on it)."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocketDisconnect

    async def echo(socket) -> None:
        await socket.accept()
        await socket.send_text("open")
        await socket.close()

    guard = Guard()
    app = Starlette(routes=[*guard.routes(), WebSocketRoute("/api/socket", echo)],
                    middleware=[Middleware(GuardMiddleware, guard=guard)])
    client = TestClient(app, base_url=BASE)
    for headers in ({"Origin": BASE}, {}):  # no session yet; then a session without an Origin
        with pytest.raises(WebSocketDisconnect), client.websocket_connect(SOCKET, headers=headers) as socket:
            socket.receive_text()
        client.get("/api/session")
    with pytest.raises(WebSocketDisconnect), client.websocket_connect(
            SOCKET, headers={"Origin": "http://evil.example"}) as socket:
        socket.receive_text()
    with client.websocket_connect(SOCKET, headers={"Origin": BASE}) as socket:
        assert socket.receive_text() == "open"


def test_every_shipped_page_obeys_the_content_security_policy() -> None:
    """The CSP allows scripts, styles and images from the page's own origin only: an inline <script>,
    <style>, style="..." or onclick="..." is silently blocked by the browser, and nothing comes from
    another site (no CDN, no web fonts)."""
    from assistant.web.app import STATIC

    pages = sorted(STATIC.glob("*.html"))
    assert any(page.name == "pair.html" for page in pages)
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html, re.I), f"{page.name}: an inline <script>"
        assert not re.search(r"<style\b", html, re.I), f"{page.name}: a <style> element (put it in a .css file)"
        assert not re.search(r"\sstyle\s*=", html, re.I), f"{page.name}: a style attribute"
        assert not re.search(r"\son[a-z]+\s*=", html, re.I), f"{page.name}: an inline event handler"
        assert not re.search(r"""(src|href|action)\s*=\s*["']?(https?:)?//""", html, re.I), f"{page.name}: another site"
    for asset in [*STATIC.glob("*.js"), *STATIC.glob("*.css")]:
        text = asset.read_text(encoding="utf-8")
        assert not re.search(r"\beval\(|new Function\(|@import|url\(\s*['\"]?(https?:)?//", text), asset.name


def test_the_wait_doubles_with_each_wrong_code_up_to_an_hour() -> None:
    from assistant.web.pairing import FREE_TRIES, MAX_WAIT_S, Pairing

    pairing, now = Pairing(), 0.0
    code = pairing.new_code(now)
    wrong = ("1" if code[0] != "1" else "2") + code[1:]
    waits = []
    for _ in range(2000):  # far past where 2 ** n would overflow a float
        attempt = pairing.attempt(wrong, now)
        assert not attempt.paired
        waits.append(attempt.retry_after_s)
        now += attempt.retry_after_s
        code = pairing.new_code(now)  # a code outlives no wait of an hour; a new one is asked for
        wrong = ("1" if code[0] != "1" else "2") + code[1:]
    assert waits[:FREE_TRIES - 1] == [0] * (FREE_TRIES - 1)
    assert waits[FREE_TRIES - 1:FREE_TRIES + 3] == [30, 60, 120, 240]
    assert max(waits) == MAX_WAIT_S == waits[-1]
    assert pairing.attempt(code, now).paired, "the right code still pairs once the wait is over"
