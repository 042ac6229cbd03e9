"""Fields a caller may name two ways: the seed's camelCase name (the field's alias) and the
platform's snake_case one, so a caller of the old platform switches without code changes.

`TwoSpellings` is the base of such models: either spelling is accepted, a body giving both
spellings of one field is refused (`both_spellings`), error locations use the snake_case name,
and the JSON schema lists both spellings (each saying which other name it has), a required
field needing exactly one of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError


def two_spellings(model: type[BaseModel]) -> list[tuple[str, str]]:
    """(snake_case name, seed's name) of every field of `model` that has both."""
    return [
        (name, field.alias)
        for name, field in model.model_fields.items()
        if field.alias is not None and field.alias != name
    ]


def refuse_both_spellings(model: type[BaseModel], data: object) -> None:
    """Raise `both_spellings` when `data` names one field of `model` both ways."""
    if not isinstance(data, Mapping):
        return
    for name, alias in two_spellings(model):
        if name in data and alias in data:
            raise PydanticCustomError(
                "both_spellings",
                "`{name}` and `{alias}` are two names of one field: give one of them",
                {"name": name, "alias": alias},
            )


def show_both_spellings(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Add each field's snake_case spelling next to the seed's one in `model`'s JSON schema."""
    properties: dict[str, Any] = schema.get("properties", {})
    required: list[str] = schema.get("required", [])
    rules: list[dict[str, Any]] = []
    for name, alias in two_spellings(model):
        if alias not in properties:
            continue
        seed = properties[alias]
        about = seed.get("description")
        properties[name] = {
            **seed,
            "description": _described(about, f"also named `{alias}` (the seed's name)"),
        }
        properties[alias] = {**seed, "description": _described(about, f"the seed's name of `{name}`")}
        if alias in required:
            required.remove(alias)
            rules.append({"oneOf": [{"required": [name]}, {"required": [alias]}]})
        else:
            rules.append({"not": {"required": [name, alias]}})
    if rules:
        schema["allOf"] = [*schema.get("allOf", []), *rules]
    if "required" in schema and not required:
        del schema["required"]


def _described(about: object, note: str) -> str:
    return f"{about}; {note}" if isinstance(about, str) and about else note


class TwoSpellings(BaseModel):
    """A model whose aliased fields may be given by their alias (the seed's name) or their name."""

    model_config = ConfigDict(
        populate_by_name=True, loc_by_alias=False, json_schema_extra=show_both_spellings
    )

    @model_validator(mode="before")
    @classmethod
    def _one_spelling(cls, data: object) -> object:
        refuse_both_spellings(cls, data)
        return data
