"""Surface orchestration: section plans, parallel fan-out, fallback chains, business rules.

Knows nothing of HTTP or GraphQL: it takes validated-at-the-edge arguments and the viewer,
and returns fully materialised page objects (``resolvers.page``).
"""

from resolvers.engine import Services
from resolvers.errors import BadUserInput, ClientError, NotFound
from resolvers.plans import PlanError, Plans, load_plans
from resolvers.stale import StaleSections
from resolvers.surfaces import CartLine, Surfaces, Viewer

__all__ = [
    "BadUserInput",
    "CartLine",
    "ClientError",
    "NotFound",
    "PlanError",
    "Plans",
    "Services",
    "StaleSections",
    "Surfaces",
    "Viewer",
    "load_plans",
]
