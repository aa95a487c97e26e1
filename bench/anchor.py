"""The plain-FastAPI anchor: what a page costs without GraphQL and without backends.

``python -m bench.anchor --port P --page page.json`` serves ``POST /page``: FastAPI on the
gateway's server stack (uvicorn, uvloop, httptools, no access log), verifying the bearer
token as the gateway does (PyJWT, HS256, verified tokens remembered), reading the JSON body,
building the page — the same dicts and lists as the gateway's answer, every one constructed
anew from the recorded ``page.json`` — and answering it with orjson, as the gateway encodes.
The benchmarks (``bench.documents``, ``bench.cold``) start it next to the gateway, pinned to
the same core, and report the gateway's CPU per page as a multiple of this one's: a ratio
that stays meaningful when the machine is loaded.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import jwt
import orjson
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response


def rebuild(value: Any) -> Any:
    """A fresh copy of a JSON value: one new dict or list per object or array."""
    if isinstance(value, dict):
        return {key: rebuild(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rebuild(item) for item in value]
    return value


def create_app(page: dict[str, Any], secret: str) -> FastAPI:
    """The anchor's FastAPI app answering ``page`` (rebuilt per request)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    verified: dict[str, str] = {}

    def viewer(token: str) -> str:
        subject = verified.get(token)
        if subject is None:
            try:
                claims = jwt.decode(token, secret, algorithms=["HS256"])
            except jwt.PyJWTError as exc:
                raise HTTPException(401) from exc
            subject = verified[token] = str(claims["sub"])
        return subject

    @app.get("/healthz")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/page")
    async def answer(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            raise HTTPException(401)
        viewer(header.removeprefix("Bearer "))
        body = orjson.loads(await request.body())
        if not isinstance(body.get("variables"), dict):
            raise HTTPException(400)
        return Response(orjson.dumps(rebuild(page)), media_type="application/json")

    return app


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m bench.anchor", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--page", type=Path, required=True, help="a recorded JSON answer")
    parser.add_argument("--secret", required=True, help="the HS256 key of the tokens")
    args = parser.parse_args(argv)
    page = orjson.loads(args.page.read_bytes())
    uvicorn.run(
        create_app(page, args.secret),
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
