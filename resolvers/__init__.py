"""Surface orchestration: section plans, parallel fan-out, fallback chains, business rules.

Knows nothing of HTTP or GraphQL: it takes validated-at-the-edge arguments and the request's
scope (``resolvers.request``: the viewer, the deadline, the report), and returns fully
materialised page objects (``resolvers.page``).
"""

from resolvers.engine import Services
from resolvers.errors import BadUserInput, ClientError, NotFound
from resolvers.plans import PlanError, Plans, load_plans
from resolvers.request import PageReport, RequestReport, RequestScope, Viewer
from resolvers.stale import StaleSections
from resolvers.surfaces import CartLine, Surfaces

__all__ = [
    "BadUserInput",
    "CartLine",
    "ClientError",
    "NotFound",
    "PageReport",
    "PlanError",
    "Plans",
    "RequestReport",
    "RequestScope",
    "Services",
    "StaleSections",
    "Surfaces",
    "Viewer",
    "load_plans",
]
