"""Reference bandit backend: pure logic in ``logic``, thin FastAPI app in ``app``."""
