"""Who is asking: the viewer's user id from a verified bearer token, or anonymous.

The user id never comes from arguments or headers other than ``Authorization``; a token
that is present but invalid is refused (401), never downgraded to anonymous, so a client
bug cannot silently serve non-personalised pages.
"""

from __future__ import annotations

import time

import jwt

from gateway.settings import Settings


class AuthError(Exception):
    """The bearer token is malformed, expired or wrongly signed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def viewer_from_authorization(header: str | None, settings: Settings) -> str | None:
    """The verified ``sub`` of the bearer token, or None when there is no token."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Authorization header must be 'Bearer <token>'.")
    if settings.jwt_secret is None:
        raise AuthError("This gateway accepts no bearer tokens (no verification key configured).")
    try:
        claims = jwt.decode(
            token.strip(),
            settings.jwt_secret.get_secret_value(),
            algorithms=["HS256"],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=settings.jwt_leeway_s,
            options={"require": ["sub", "exp"], "verify_aud": settings.jwt_audience is not None},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("The bearer token has expired.") from exc
    except jwt.PyJWTError as exc:
        raise AuthError(f"The bearer token is invalid: {exc}.") from exc
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise AuthError("The bearer token has no subject.")
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
