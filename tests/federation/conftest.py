"""Federation tests use the gateway tests' fakes and fixtures."""

from tests.gateway.conftest import _no_gc_pauses_from_earlier_tests, fakes

__all__ = ["_no_gc_pauses_from_earlier_tests", "fakes"]
