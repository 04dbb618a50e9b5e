"""The canonical data model: one declaration of every target table, rendered to Arrow, Polars and docs."""

from dtsen.canonical.model import (
    ENTITIES,
    MODEL_CODE_LISTS,
    RELATIONSHIPS,
    DType,
    Entity,
    Field,
    JenisHak,
    JenisKendaraan,
    Relationship,
    StatusPadan,
    Sumber,
    all_code_lists,
    arrow_schema,
    code_list_usage,
    entity,
    polars_schema,
)

__all__ = [
    "ENTITIES",
    "MODEL_CODE_LISTS",
    "RELATIONSHIPS",
    "DType",
    "Entity",
    "Field",
    "JenisHak",
    "JenisKendaraan",
    "Relationship",
    "StatusPadan",
    "Sumber",
    "all_code_lists",
    "arrow_schema",
    "code_list_usage",
    "entity",
    "polars_schema",
]
