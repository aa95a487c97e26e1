"""``python -m backends.reviews [--port P] [--host H]``: serve the reviews subgraph."""

from __future__ import annotations

import argparse

import uvicorn

from backends.reviews.app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m backends.reviews", description=__doc__)
    parser.add_argument("--port", type=int, default=8106)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
