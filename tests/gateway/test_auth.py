"""Identity: only a verified token names the viewer; nothing else can select a user."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from gateway.settings import Settings
from tests.gateway.conftest import DISCOVERY, HELSINKI, SECRET, Gateway, GatewayFactory

QUERY = "{ discovery(location: {lat: 60.17, lon: 24.94}) { sections { id } } }"


def _token(secret: str = SECRET, **claims: Any) -> str:
    now = int(time.time())
    body = {"sub": "u0001", "iat": now, "nbf": now, "exp": now + 600, **claims}
    return jwt.encode(body, secret, algorithm="HS256")


async def _status(gw: Gateway, token: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = await gw.client.post(
        "/graphql", json={"query": QUERY}, headers={"Authorization": f"Bearer {token}"}
    )
    return response.status_code, response.json(), dict(response.headers)


@pytest.mark.parametrize(
    ("name", "token"),
    [
        ("expired", _token(exp=int(time.time()) - 3600)),
        ("not yet valid", _token(nbf=int(time.time()) + 3600)),
        ("wrong key", _token(secret="another-secret-another-secret-xx")),
        ("garbage", "not.a.jwt"),
        ("no subject", jwt.encode({"exp": int(time.time()) + 60}, SECRET, algorithm="HS256")),
        (
            "alg none",
            jwt.encode({"sub": "u0001", "exp": int(time.time()) + 60}, None, algorithm="none"),
        ),
    ],
)
async def test_bad_tokens_get_401_never_an_anonymous_page(
    gateway: Gateway, name: str, token: str
) -> None:
    status, body, headers = await _status(gateway, token)
    assert status == 401, name
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert headers["www-authenticate"].startswith("Bearer")
    assert sum(gateway.fakes.calls.values()) == 0, "no backend is asked for a refused caller"


async def test_small_clock_skew_is_tolerated(gateway: Gateway) -> None:
    status, _, _ = await _status(gateway, _token(nbf=int(time.time()) + 10))
    assert status == 200


async def test_issuer_and_audience_are_checked_when_configured(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway(jwt_issuer="https://id.example", jwt_audience="pgw") as gw:
        good = _token(iss="https://id.example", aud="pgw")
        assert (await _status(gw, good))[0] == 200
        assert (await _status(gw, _token(iss="https://evil.example", aud="pgw")))[0] == 401
        assert (await _status(gw, _token(iss="https://id.example", aud="other")))[0] == 401
        assert (await _status(gw, _token()))[0] == 401


async def test_a_viewer_only_ever_gets_their_own_personalisation(gateway: Gateway) -> None:
    def order_again(page: dict[str, Any]) -> list[str] | None:
        for section in page["sections"]:
            if section["id"] == "order_again":
                return [v["id"] for v in section["venues"]]
        return None

    mine = await gateway.discovery(user="u0001")  # u0001 has history in the fake world
    assert order_again(mine)
    # u0002 right after: every cache is warm with u0001's results, and u0002 also tries
    # to name u0001 through every channel that is not the token.
    response = await gateway.query(
        DISCOVERY,
        {"loc": HELSINKI, "userId": "u0001"},
        user="u0002",
        headers={"X-User-Id": "u0001", "X-Forwarded-User": "u0001"},
    )
    theirs = response.json()["data"]["discovery"]
    assert order_again(theirs) is None
    users = {r.get("user_id") for r in gateway.fakes.candidate_requests()}
    assert users == {"u0001", "u0002"}
    last = gateway.fakes.candidate_requests()[-1]
    assert last["user_id"] == "u0002"


# -- JWKS (RS256 / ES256) with key rotation ---------------------------------------------------


class _Jwks:
    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, _Jwks]]:
    state = _Jwks()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.fetches += 1
            body = json.dumps({"keys": state.keys}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json", state
    finally:
        server.shutdown()


def _public_jwk(key: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = RSAAlgorithm if alg == "RS256" else ECAlgorithm
    jwk = json.loads(algorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


def _signed(key: Any, kid: str, alg: str, sub: str = "u0001") -> str:
    now = int(time.time())
    return jwt.encode(
        {"sub": sub, "exp": now + 600, "iat": now}, key, algorithm=alg, headers={"kid": kid}
    )


async def test_jwks_rs256_and_es256_with_key_rotation(
    make_gateway: GatewayFactory, jwks_server: tuple[str, _Jwks]
) -> None:
    url, jwks = jwks_server
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwks.keys = [_public_jwk(rsa_key, "k1", "RS256"), _public_jwk(ec_key, "k2", "ES256")]
    async with make_gateway(jwt_jwks_url=url, jwt_jwks_refetch_s=0, jwt_secret=None) as gw:
        assert (await _status(gw, _signed(rsa_key, "k1", "RS256")))[0] == 200
        assert (await _status(gw, _signed(ec_key, "k2", "ES256")))[0] == 200
        fetches = jwks.fetches
        assert (await _status(gw, _signed(rsa_key, "k1", "RS256")))[0] == 200
        assert jwks.fetches == fetches, "keys are cached"

        rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        token = _signed(rotated, "k3", "RS256")
        assert (await _status(gw, token))[0] == 401  # not published yet
        jwks.keys = [_public_jwk(rotated, "k3", "RS256")]
        assert (await _status(gw, token))[0] == 200  # unknown kid -> one refetch
        # a token signed by the retired key's id but another key is refused
        forged = _signed(rotated, "k1", "RS256")
        assert (await _status(gw, forged))[0] == 401
        # HS256 tokens are refused when only JWKS is configured (no algorithm confusion)
        assert (await _status(gw, _token()))[0] == 401


# -- production safety ----------------------------------------------------------------------


def test_production_refuses_no_auth_weak_and_demo_keys(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="PGW_JWT_SECRET or PGW_JWT_JWKS_URL"):
        Settings(environment="production")
    Settings(environment="production", local_no_auth=True)
    with pytest.raises(ValueError, match="at least 32"):
        Settings(environment="production", jwt_secret="short")
    demo = tmp_path / "demo-secret"
    demo.write_text("d" * 40)
    monkeypatch.setattr("gateway.settings.DEMO_SECRET_PATH", demo)
    with pytest.raises(ValueError, match="demo key"):
        Settings(environment="production", jwt_secret="d" * 40)
    Settings(environment="production", jwt_secret="p" * 40, tracking_key="t" * 40)


class TestRememberedTokens:
    """A verified token is remembered, but its expiry still counts on every request."""

    def _verifier(self) -> Any:
        from gateway.auth import TokenVerifier

        return TokenVerifier(Settings(environment="test", jwt_secret=SECRET))

    async def test_a_remembered_token_still_expires(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from gateway.auth import AuthError

        verifier = self._verifier()
        now = time.time()
        token = _token(exp=int(now) + 5)
        assert await verifier.viewer(f"Bearer {token}") == "u0001"
        assert token in verifier._verified
        monkeypatch.setattr(time, "time", lambda: now + 3600)
        with pytest.raises(AuthError, match="expired"):
            await verifier.viewer(f"Bearer {token}")

    async def test_a_second_request_skips_the_signature_check(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        verifier = self._verifier()
        token = _token()
        assert await verifier.viewer(f"Bearer {token}") == "u0001"

        def not_again(*_args: object, **_kwargs: object) -> None:
            raise AssertionError("verified twice")

        monkeypatch.setattr(jwt, "decode", not_again)
        assert await verifier.viewer(f"Bearer {token}") == "u0001"

    async def test_an_altered_token_is_verified_afresh(self) -> None:
        from gateway.auth import AuthError

        verifier = self._verifier()
        token = _token()
        assert await verifier.viewer(f"Bearer {token}") == "u0001"
        head, _body, signature = token.split(".")
        forged = jwt.encode({"sub": "u0002", "exp": int(time.time()) + 600}, "x" * 32)
        tampered = f"{head}.{forged.split('.')[1]}.{signature}"
        with pytest.raises(AuthError):
            await verifier.viewer(f"Bearer {tampered}")
