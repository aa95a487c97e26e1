"""map_backend_errors: the one place where httpx / pydantic errors become BackendErrors."""

from __future__ import annotations

import httpx
import pydantic
import pytest

from clients import (
    BackendError,
    BackendMalformed,
    BackendTimeout,
    BackendUnavailable,
    map_backend_errors,
)
from clients.contracts import CandidatesResponse

REQUEST = httpx.Request("GET", "http://backend.test/")


def validation_error() -> pydantic.ValidationError:
    try:
        CandidatesResponse.model_validate_json(b"{}")
    except pydantic.ValidationError as exc:
        return exc
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("raised", "expected", "retryable"),
    [
        (httpx.ConnectError("refused", request=REQUEST), BackendUnavailable, True),
        (httpx.ConnectTimeout("slow", request=REQUEST), BackendTimeout, None),
        (httpx.ReadTimeout("slow", request=REQUEST), BackendTimeout, None),
        (httpx.PoolTimeout("busy", request=REQUEST), BackendTimeout, None),
        (httpx.ReadError("reset", request=REQUEST), BackendUnavailable, False),
        (httpx.RemoteProtocolError("bad", request=REQUEST), BackendUnavailable, False),
        (httpx.DecodingError("gzip", request=REQUEST), BackendMalformed, None),
        (TimeoutError(), BackendTimeout, None),
        (validation_error(), BackendMalformed, None),
    ],
)
def test_translation(
    raised: Exception, expected: type[BackendError], retryable: bool | None
) -> None:
    with pytest.raises(expected) as info, map_backend_errors("catalog", "venues"):
        raise raised
    assert info.value.backend == "catalog"
    assert info.value.endpoint == "venues"
    assert info.value.__cause__ is raised
    if retryable is not None:
        assert isinstance(info.value, BackendUnavailable)
        assert info.value.retryable is retryable


def test_backend_errors_pass_through_and_others_are_untouched() -> None:
    original = BackendTimeout("a", "b")
    with pytest.raises(BackendTimeout) as info, map_backend_errors("catalog", "venues"):
        raise original
    assert info.value is original
    with pytest.raises(KeyError), map_backend_errors("catalog", "venues"):
        raise KeyError("a bug stays a bug")


def test_error_messages_name_backend_and_endpoint() -> None:
    assert str(BackendTimeout("ranking", "rank")) == "ranking.rank: timed out"
