"""Reference retrieval backend: pure logic in ``logic``, thin FastAPI app in ``app``."""
