"""Who is asking: the viewer's user id from a verified bearer token, or anonymous.

The user id never comes from arguments or headers other than ``Authorization``; a token
that is present but invalid is refused (401), never downgraded to anonymous, so a client
bug cannot silently serve non-personalised pages.

Two ways to verify, both with pyjwt: an HS256 shared secret (``PGW_JWT_SECRET``), or RS256 /
ES256 public keys from a JWKS URL (``PGW_JWT_JWKS_URL``). JWKS keys are cached; a token
signed with a key id the cache does not know triggers one refetch (at most once per
``PGW_JWT_JWKS_REFETCH_S``), which is how a key rotation is picked up without a restart.
``exp`` is required; ``nbf``, ``iss`` and ``aud`` are checked (with ``PGW_JWT_LEEWAY_S`` of
clock skew) whenever configured or present.

A verified token is remembered for up to a minute (at most 10,000 per worker): a client
sends the same token on every request, and verifying its signature again costs more than
the rest of a cached page's authentication. Its ``exp`` and ``nbf`` are still checked on
every request; only the signature, issuer and audience checks are skipped for a token that
already passed them.
"""

from __future__ import annotations

import asyncio
import time

import jwt
from cachetools import TTLCache
from jwt import PyJWKClient

from gateway.settings import Settings

ASYMMETRIC = ("RS256", "ES256")
VERIFIED_TOKENS = 10_000
VERIFIED_FOR_S = 60.0


class AuthError(Exception):
    """The bearer token is malformed, expired or wrongly signed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TokenVerifier:
    """Verifies bearer tokens as configured; one per app (it holds the JWKS cache)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
        self._jwks = (
            PyJWKClient(
                settings.jwt_jwks_url,
                cache_keys=True,
                lifespan=settings.jwt_jwks_cache_s,
                timeout=2,
                # an unknown key id refetches the set at most this often (kid-spam guard)
                cooldown_duration=settings.jwt_jwks_refetch_s,
            )
            if settings.jwt_jwks_url
            else None
        )
        # token -> (subject, exp, nbf) of tokens whose signature and claims were verified
        self._verified: TTLCache[str, tuple[str, float, float]] = TTLCache(
            maxsize=VERIFIED_TOKENS, ttl=VERIFIED_FOR_S
        )

    @property
    def enabled(self) -> bool:
        return self._secret is not None or self._jwks is not None

    def remembers(self, header: str) -> bool:
        """Whether this header's token was verified recently (no verification work to do)."""
        _, _, token = header.partition(" ")
        return token.strip() in self._verified

    async def viewer(self, header: str | None) -> str | None:
        """The verified ``sub`` of the bearer token, or None when there is no token."""
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError("Authorization header must be 'Bearer <token>'.")
        if not self.enabled:
            raise AuthError("This gateway accepts no bearer tokens (no verification key).")
        remembered = self._verified.get(token)
        if remembered is not None:
            subject, expires, not_before = remembered
            now, leeway = time.time(), self._settings.jwt_leeway_s
            if now > expires + leeway:
                raise AuthError("The bearer token has expired.")
            if now < not_before - leeway:
                raise AuthError("The bearer token is not valid yet (nbf).")
            return subject
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError as exc:
            raise AuthError(f"The bearer token is malformed: {exc}.") from exc
        key: object
        if algorithm in ASYMMETRIC and self._jwks is not None:
            key = await self._signing_key(token)
            algorithms = list(ASYMMETRIC)
        elif algorithm == "HS256" and self._secret is not None:
            key, algorithms = self._secret, ["HS256"]
        else:
            raise AuthError(f"The bearer token's algorithm {algorithm!r} is not accepted.")
        return self._claims_subject(token, key, algorithms)

    async def _signing_key(self, token: str) -> object:
        jwks = self._jwks
        assert jwks is not None
        try:
            # The JWKS client fetches with blocking I/O; only a cache miss does any, but it
            # must not stall the event loop when it does.
            signing_key = await asyncio.to_thread(jwks.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientError as exc:
            raise AuthError(f"The bearer token's signing key is unknown: {exc}.") from exc
        except jwt.PyJWTError as exc:
            raise AuthError(f"The bearer token is invalid: {exc}.") from exc
        return signing_key.key

    def _claims_subject(self, token: str, key: object, algorithms: list[str]) -> str:
        settings = self._settings
        try:
            claims = jwt.decode(
                token,
                key,  # type: ignore[arg-type]
                algorithms=algorithms,
                audience=settings.jwt_audience,
                issuer=settings.jwt_issuer,
                leeway=settings.jwt_leeway_s,
                options={
                    "require": ["sub", "exp"],
                    "verify_aud": settings.jwt_audience is not None,
                },
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("The bearer token has expired.") from exc
        except jwt.ImmatureSignatureError as exc:
            raise AuthError("The bearer token is not valid yet (nbf).") from exc
        except jwt.PyJWTError as exc:
            raise AuthError(f"The bearer token is invalid: {exc}.") from exc
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise AuthError("The bearer token has no subject.")
        expires, not_before = claims.get("exp"), claims.get("nbf", 0)
        if isinstance(expires, int | float) and isinstance(not_before, int | float):
            self._verified[token] = (subject, float(expires), float(not_before))
        return subject


def mint_token(
    user_id: str,
    secret: str,
    *,
    ttl_s: int = 86_400,
    issuer: str | None = None,
    audience: str | None = None,
) -> str:
    """A signed HS256 token for ``user_id`` (demo and tests)."""
    now = int(time.time())
    claims: dict[str, object] = {"sub": user_id, "iat": now, "nbf": now, "exp": now + ttl_s}
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")
