"""The gateway fixtures (fake backends, in-process app) for the security tests."""

from tests.gateway.conftest import _no_gc_pauses_from_earlier_tests, fakes, gateway, make_gateway

__all__ = ["_no_gc_pauses_from_earlier_tests", "fakes", "gateway", "make_gateway"]
