"""A compiled execution path for persisted query documents (see ``compiler``)."""

from __future__ import annotations

from gateway.compiled.compiler import CallRoot, CompiledOperation, RootField, compile_operation
from gateway.compiled.roots import root_caller

__all__ = ["CallRoot", "CompiledOperation", "RootField", "compile_operation", "root_caller"]
