"""Render ``docs/data-model.md`` from the canonical model, so the documentation cannot drift from the code.

The output is deterministic (no dates, stable order): a test compares the committed file with a fresh
rendering, and ``dtsen reference data-model --out docs/data-model.md`` regenerates it.
"""

from __future__ import annotations

from collections.abc import Iterable

from dtsen.canonical.model import (
    ENTITIES,
    RELATIONSHIPS,
    DType,
    Entity,
    Field,
    Relationship,
    Sumber,
    all_code_lists,
    code_list_usage,
)
from dtsen.reference.codes import CodeList

REGENERATE = "dtsen reference data-model --out docs/data-model.md"


def _cell(text: object) -> str:
    """A Markdown table cell: pipes escaped, newlines folded."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> list[str]:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading made of a single word (code list class names, entity names)."""
    return heading.lower()


def _doc(cls: type) -> str:
    text = cls.__dict__.get("__doc__") or ""
    return " ".join(text.split())


_TYPE_LABELS = {DType.MONEY: "int64 (rupiah)", DType.DATE: "date32"}


def _type_label(f: Field) -> str:
    """Short physical type: ``int8`` for codes, ``int64 (rupiah)`` for money, ``date32`` for dates."""
    return _TYPE_LABELS.get(f.storage, str(f.storage))


def _pii_label(f: Field) -> str:
    parts = (["yes"] if f.pii else []) + (["specific"] if f.sensitive else [])
    return ", ".join(parts)


def _meaning(f: Field) -> str:
    text = f.description
    if f.unit:
        text += f" Unit: {f.unit}."
    if f.derived_from:
        text += f" Derived from `{f.derived_from}`."
    return text


def _field_row(f: Field, key: tuple[str, ...]) -> list[str]:
    name = f"`{f.name}`" + (" (key)" if f.name in key else "")
    code = f"[{f.code_list.__name__}](#{_anchor(f.code_list.__name__)})" if f.code_list else ""
    return [
        name,
        _type_label(f),
        "yes" if f.required else "",
        _pii_label(f),
        _meaning(f),
        code,
        f.regsosek or "",
    ]


def _mermaid_type(f: Field) -> str:
    return "string_list" if f.storage is DType.STRING_LIST else str(f.storage)


def _relationship_line(rel: Relationship) -> str:
    child_field = ENTITIES[rel.child].field(rel.child_field)
    parent_side = "||" if child_field.required and not rel.partial else "|o"
    join = (
        rel.child_field if rel.child_field == rel.parent_field else f"{rel.parent_field} = {rel.child_field}"
    )
    return f'    {rel.parent} {parent_side}--o{{ {rel.child} : "{rel.label} ({join})"'


def render_diagram() -> list[str]:
    """Mermaid erDiagram: every entity with its key and join columns, every relationship."""
    joins: dict[str, set[str]] = {name: set() for name in ENTITIES}
    for rel in RELATIONSHIPS:
        joins[rel.parent].add(rel.parent_field)
        joins[rel.child].add(rel.child_field)
    lines = ["```mermaid", "erDiagram"]
    lines += [_relationship_line(rel) for rel in RELATIONSHIPS]
    for ent in ENTITIES.values():
        lines.append(f"    {ent.name} {{")
        for f in ent.fields:
            if f.name in ent.key or f.name in joins[ent.name]:
                marks = "PK" if f.name in ent.key else ""
                if any(rel.child == ent.name and rel.child_field == f.name for rel in RELATIONSHIPS):
                    marks = f"{marks}, FK" if marks else "FK"
                lines.append(f"        {_mermaid_type(f)} {f.name} {marks}".rstrip())
        lines.append("    }")
    lines.append("```")
    return lines


def render_entity(ent: Entity) -> list[str]:
    lines = [f"## {ent.name}", "", ent.description, ""]
    lines.append(f"- Key: {', '.join(f'`{k}`' for k in ent.key)}")
    if ent.sources:
        lines.append(f"- Sources: {', '.join(f'`{s}`' for s in ent.sources)}")
    lines.append(f"- Columns: {len(ent.fields)}")
    for group, fields in ent.groups():
        lines += ["", f"**{group}**", ""]
        lines += _table(
            ["field", "type", "required", "PII", "meaning", "code list", "Regsosek"],
            (_field_row(f, ent.key) for f in fields),
        )
    lines.append("")
    return lines


def render_code_list(cls: type[CodeList], used_by: list[str]) -> list[str]:
    lines = [f"### {cls.__name__}", ""]
    doc = _doc(cls)
    if doc:
        lines += [doc, ""]
    has_field = isinstance(getattr(cls, "field", None), property)
    if has_field:
        lines += ["Each code is a column of its own (see the `column` cell).", ""]
    elif used_by:
        lines += ["Used by: " + ", ".join(f"`{u}`" for u in used_by) + ".", ""]
    header = ["code", "label", "English", *(["column"] if has_field else [])]
    rows = ([int(m), m.label, m.label_en, *([f"`{m.field}`"] if has_field else [])] for m in cls)
    return [*lines, *_table(header, rows), ""]


def _conventions() -> list[str]:
    storage = [DType.STRING, DType.CODE, DType.BOOL, DType.INT8, DType.INT16, DType.INT32]
    storage += [DType.INT64, DType.FLOAT64, DType.MONEY, DType.DATE, DType.STRING_LIST]
    notes = {
        DType.STRING: "identifiers (NIK, No. KK, region codes, keys) are always text, never numbers",
        DType.CODE: "a code list value; int8 (every list fits)",
        DType.MONEY: "whole rupiah, int64",
        DType.DATE: "calendar date, date32",
        DType.STRING_LIST: "list of text values (flags, gelar)",
    }
    example = {d: Field("x", d, "example") for d in storage if d is not DType.CODE}
    rows = []
    for d in storage:
        arrow = "int8" if d is DType.CODE else str(example[d].arrow_type)
        polars = "Int8" if d is DType.CODE else str(example[d].polars_type)
        rows.append([f"`{d}`", arrow, polars, notes.get(d, "")])
    return [
        "## Conventions",
        "",
        "- Ingestion writes one table per entity and source batch with exactly these columns; linkage "
        "writes golden records with the same columns; the welfare model and program rules read them.",
        "- **required** columns are non-nullable in Arrow/Parquet; everything else may be null when a "
        "source does not have it (a missing or invalid value becomes null plus a code in `flags`).",
        "- **PII**: `yes` identifies a person (masked in logs, terminal output and aggregate extracts); "
        "`specific` is specific personal data under UU 27/2022 (health, personal finance) and needs a "
        "stated purpose to be shared.",
        "- **Regsosek** is the REGSOSEK22-K questionnaire item (or block) the column answers; other sources "
        "fill the same column with their item of the same meaning.",
        "- Every entity ends with the same provenance columns: `sumber`, `batch_id`, `berkas`, `baris`, "
        "`tanggal_data`, `flags`.",
        "",
        *_table(["logical type", "Arrow", "Polars", "notes"], rows),
        "",
    ]


def _sources() -> list[str]:
    rows = []
    for s in Sumber:
        fed = [e.name for e in ENTITIES.values() if s in e.sources]
        rows.append([f"`{s}`", s.description, ", ".join(fed)])
    return [
        "## Sources",
        "",
        "Values of the `sumber` column.",
        "",
        *_table(["sumber", "source", "entities"], rows),
        "",
    ]


def render_markdown() -> str:
    """The whole of ``docs/data-model.md``."""
    usage = code_list_usage()
    lines = [
        "# DTSEN canonical data model",
        "",
        f"<!-- Generated from src/dtsen/canonical/model.py by `{REGENERATE}`. Do not edit by hand: "
        "tests/test_canonical.py fails when this file and the model disagree. -->",
        "",
        "The target tables every source is conformed to (SIAK/Dukcapil, Regsosek 2022, DTKS, P3KE, PLN, "
        "BPJS Kesehatan, vehicle and land registries, Susenas).",
        "",
        "| entity | columns | key | what one row is |",
        "|---|---|---|---|",
    ]
    for ent in ENTITIES.values():
        first = ent.description.split(". ")[0].rstrip(".") + "."
        keys = ", ".join(f"`{k}`" for k in ent.key)
        lines.append(f"| [{ent.name}](#{_anchor(ent.name)}) | {len(ent.fields)} | {keys} | {_cell(first)} |")
    lines += ["", "## Entity diagram", "", *render_diagram(), ""]
    lines += _conventions()
    for ent in ENTITIES.values():
        lines += render_entity(ent)
    lines += _sources()
    lines += ["## Appendix: code lists", ""]
    lines.append(
        "Regsosek 2022 and Dukcapil/SIAK lists from `dtsen.reference.codes`, then the lists the model "
        "defines itself (`dtsen.canonical.model`)."
    )
    lines.append("")
    for name, cls in all_code_lists().items():
        lines += render_code_list(cls, usage.get(name, []))
    return "\n".join(lines).rstrip() + "\n"
