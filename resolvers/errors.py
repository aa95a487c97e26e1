"""Errors that are the client's fault, with the GraphQL error code the API promises.

The schema layer turns these into GraphQL errors carrying ``extensions.code`` and the
argument's path; anything else escaping a resolver is a bug and gets masked.
"""

from __future__ import annotations


class ClientError(Exception):
    """Base of errors caused by the request, never by a backend."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, *, argument: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.argument = argument


class BadUserInput(ClientError):
    """An argument is out of range, malformed or refers to something that cannot exist."""

    code = "BAD_USER_INPUT"


class NotFound(ClientError):
    """An id is well-formed but the catalog does not know it."""

    code = "NOT_FOUND"
