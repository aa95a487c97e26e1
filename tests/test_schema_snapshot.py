"""The committed SDL is the schema: a change to the types must come with a new snapshot."""

from __future__ import annotations

from graphql import build_schema as parse_sdl

from schema import SDL_PATH, export_sdl


def test_committed_sdl_matches_the_live_schema() -> None:
    committed = SDL_PATH.read_text(encoding="utf-8")
    assert committed == export_sdl(), (
        "schema/schema.graphql is stale: run `make schema` and commit the result"
    )


def test_every_type_and_field_has_a_description() -> None:
    schema = parse_sdl(SDL_PATH.read_text(encoding="utf-8"))
    missing: list[str] = []
    for name, graphql_type in schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if not graphql_type.description:
            missing.append(name)
        for field_name, field in getattr(graphql_type, "fields", {}).items():
            if not field.description:
                missing.append(f"{name}.{field_name}")
            for arg_name, arg in getattr(field, "args", {}).items():
                if not arg.description:
                    missing.append(f"{name}.{field_name}({arg_name})")
    assert not missing, f"undocumented: {missing}"
