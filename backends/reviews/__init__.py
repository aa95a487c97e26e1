"""Reviews: a small second Federation 2 subgraph extending the gateway's ``Venue``."""
