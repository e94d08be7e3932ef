"""Behind a proxy the loopback check looks at the socket's peer and at every
address forwarded for, never at what a proxy rewrote (issue 15, item 11)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.middleware.proxy_fix import ProxyFix

URL = "/_pact/provider_states"
CHANGE = {"action": "setup", "state": "", "params": {}}


@pytest.fixture
def proxied(app: Flask) -> FlaskClient:
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)  # type: ignore[method-assign]
    return app.test_client()


def test_proxy_fix_does_not_let_a_forged_loopback_header_in(
    proxied: FlaskClient,
) -> None:
    answer = proxied.post(
        URL,
        json=CHANGE,
        headers={"X-Forwarded-For": "127.0.0.1"},
        environ_base={"REMOTE_ADDR": "203.0.113.5"},
    )

    assert answer.status_code == 403
    assert "not 203.0.113.5" in answer.get_json()["message"]


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Forwarded-For", "203.0.113.5"),
        ("X-Forwarded-For", "127.0.0.1, 203.0.113.5"),
        ("X-Real-IP", "203.0.113.5"),
        ("Forwarded", 'for="203.0.113.5:4711";proto=http'),
        ("Forwarded", 'for="[2001:db8::1]:4711"'),
    ],
)
def test_a_same_host_proxy_forwarding_a_remote_caller_is_refused(
    client: FlaskClient, header: str, value: str
) -> None:
    """The proxy's connection comes from loopback; the caller does not."""
    answer = client.post(URL, json=CHANGE, headers={header: value})

    assert answer.status_code == 403


@pytest.mark.parametrize("value", ["127.0.0.1", "::1", "127.0.0.1, ::ffff:127.0.0.1"])
def test_loopback_forwarded_for_loopback_is_answered(
    client: FlaskClient, value: str
) -> None:
    answer = client.post(URL, json=CHANGE, headers={"X-Forwarded-For": value})

    assert answer.status_code == 200
