"""Console sessions end when the operator logs out, the login form carries a CSRF token, and
every answer of the service carries its security headers (issue 22, findings 4 and 5)."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.e2e.conftest import OPERATOR_KEY, SESSION_COOKIE, login_token, operator_client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found[1]


def test_logging_out_ends_the_session_on_the_server(svc):
    with operator_client(svc) as client:
        token = client.cookies[SESSION_COOKIE]
        page = client.get("/console")
        assert page.status_code == 200
        out = client.post("/console/logout", data={"csrf": csrf_of(page.text)})
        assert out.status_code == 303 and out.headers["location"] == "/console/login"
    # The cookie's value kept by anyone (a copied cookie, a stolen one) opens nothing any more.
    with httpx.Client(base_url=str(svc.api.base_url), timeout=30) as replayed:
        replayed.cookies.set(SESSION_COOKIE, token, path="/console")
        answer = replayed.get("/console")
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/console/login")


def test_a_session_cookie_holds_a_random_token_not_the_session(svc):
    with operator_client(svc) as client, operator_client(svc) as other:
        mine, theirs = client.cookies[SESSION_COOKIE], other.cookies[SESSION_COOKIE]
        assert mine != theirs and len(mine) >= 40 and OPERATOR_KEY not in mine
        assert "." not in mine  # not a signed payload: nothing to decode or replay past logout
        assert client.get("/console").status_code == 200
    with httpx.Client(base_url=str(svc.api.base_url), timeout=30) as forger:
        forger.cookies.set(SESSION_COOKIE, mine[:-1] + ("A" if mine[-1] != "A" else "B"),
                           path="/console")  # fmt: skip
        assert forger.get("/console").status_code == 303


def test_logout_is_a_post_with_the_csrf_token_only(svc):
    with operator_client(svc) as client:
        got = client.get("/console/logout")
        assert got.status_code == 405 and got.headers["allow"] == "POST"
        refused = client.post("/console/logout", data={"csrf": "not-the-token"})
        assert refused.status_code == 403
        assert client.get("/console").status_code == 200  # still signed in


def test_the_login_form_needs_its_csrf_token(svc):
    with httpx.Client(base_url=str(svc.api.base_url), timeout=30) as client:
        # No form token, or a token without the cookie that vouches for it: refused.
        bare = client.post("/console/login", data={"key": OPERATOR_KEY, "next": "/console"})
        assert bare.status_code == 403 and SESSION_COOKIE not in client.cookies
        assert "expired or did not come from this console" in bare.text
        token = login_token(client)
        with httpx.Client(base_url=str(svc.api.base_url), timeout=30) as elsewhere:
            foreign = elsewhere.post("/console/login", data={"key": OPERATOR_KEY, "csrf": token})
            assert foreign.status_code == 403 and SESSION_COOKIE not in elsewhere.cookies
        signed_in = client.post("/console/login", data={"key": OPERATOR_KEY, "csrf": token})
        assert signed_in.status_code == 303 and SESSION_COOKIE in client.cookies


COMMON = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


@pytest.mark.parametrize(
    ("path", "with_key"),
    [("/sagas", True), ("/getContact?email=nobody@example.com", True), ("/sagas", False),
     ("/no-such-route", False), ("/openapi.json", False), ("/metrics", False)],
)  # fmt: skip
def test_api_answers_carry_the_security_headers(svc, path, with_key):
    client = svc.operator if with_key else httpx.Client(base_url=str(svc.api.base_url))
    response = client.get(path)
    for name, value in COMMON.items():
        assert response.headers.get(name) == value, (path, name)
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy


def test_console_pages_carry_a_policy_that_allows_only_their_own_script(svc):
    anonymous = httpx.Client(base_url=str(svc.api.base_url))
    with operator_client(svc) as client:
        for path in ("/console/login", "/console", "/console/workers", "/console/dead-letters"):
            response = (anonymous if path == "/console/login" else client).get(path)
            assert response.status_code == 200, path
            policy = response.headers["content-security-policy"]
            assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
            assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";")[0]
            assert response.headers["cache-control"] == "no-store"
            assert response.headers["x-frame-options"] == "DENY"
            # every script is a file of ours: an inline one would be blocked by the policy
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", response.text), path
        script = client.get("/console/static/console.js")
        assert script.status_code == 200 and "data-confirm" in script.text
        assert script.headers["content-type"].startswith("text/javascript")


def test_swagger_ui_is_off_unless_asked_for(svc):
    assert svc.api.get("/docs").status_code == 404  # it would load its script from a CDN
    assert svc.api.get("/redoc").status_code == 404
    assert svc.api.get("/openapi.json").status_code == 200
