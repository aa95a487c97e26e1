"""The public surface of ``clients`` is exactly ``__all__`` (httpx's exported-members idea)."""

import clients


def test_all_names_are_exported_and_importable() -> None:
    exported = {name for name in dir(clients) if not name.startswith("_")}
    modules = {
        "bandit", "base", "batching", "breaker", "cache", "call", "catalog", "config",
        "contracts", "deadline", "errors", "observe", "popularity", "ranking", "readthrough",
        "reference", "registry", "redis", "results", "retrieval", "retry", "singleflight",
    }  # fmt: skip
    assert set(clients.__all__) == exported - modules
    for name in clients.__all__:
        assert getattr(clients, name) is not None


def test_all_is_sorted() -> None:
    assert clients.__all__ == sorted(clients.__all__, key=lambda n: (not n.isupper(), n))


def test_exported_members_claim_to_be_from_clients() -> None:
    for name in clients.__all__:
        member = getattr(clients, name)
        module = getattr(member, "__module__", None)
        if module is not None and isinstance(member, type):
            assert module.startswith("clients."), name
