"""Reference ranking backend: pure logic in ``logic``, thin FastAPI app in ``app``."""
