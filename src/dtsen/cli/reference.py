"""``dtsen reference``: the shared reference data from the terminal (data model, regions, code lists, NIK).

Output here is often pasted into tickets and chat, so ``check-nik`` never prints a whole identifier or
what it encodes about a person (birth date, kecamatan): only the last four digits, the kabupaten/kota
and the findings.
"""

from __future__ import annotations

import re
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from dtsen.reference.codes import CodeList

# The canonical model, code lists, region table and Polars are imported inside the commands that use
# them: every dtsen command registers this sub-app.

app = typer.Typer(
    help="Reference data: the canonical data model, regions, code lists and NIK/KK checks.",
    no_args_is_help=True,
)


class Level(StrEnum):
    PROVINSI = "provinsi"
    KABUPATEN = "kabupaten"
    KECAMATAN = "kecamatan"
    DESA = "desa"


_DEPTH = {Level.PROVINSI: 2, Level.KABUPATEN: 4, Level.KECAMATAN: 6, Level.DESA: 10}
_LONG_DIGITS = re.compile(r"\d{4,}")


def _console() -> Console:
    # Built per call so CliRunner's captured stdout is used; no highlighting, so numbers print as-is.
    return Console(highlight=False)


def mask_identifier(text: str) -> str:
    """``3302011203900012`` -> ``************0012``: enough to tell records apart, not to identify."""
    text = text.strip()
    if len(text) < 8:
        return "*" * len(text)
    return "*" * (len(text) - 4) + text[-4:]


def _scrub(message: str) -> str:
    """Mask digit runs of 4 or more in a finding message (they quote parts of the identifier)."""
    return _LONG_DIGITS.sub(lambda m: "*" * len(m.group(0)), message)


@app.command("data-model")
def data_model(
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write the Markdown here (e.g. docs/data-model.md); default: stdout."
    ),
) -> None:
    """Render the canonical data model (entities, fields, code lists) as Markdown."""
    from dtsen.canonical.docs import render_markdown
    from dtsen.canonical.model import ENTITIES

    text = render_markdown()
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    n_fields = sum(len(e.fields) for e in ENTITIES.values())
    typer.echo(f"wrote {out}: {len(ENTITIES)} entities, {n_fields} fields")


@app.command("regions")
def regions_command(
    level: Level | None = typer.Option(
        None, "--level", case_sensitive=False, help="Level to list; default: the level below --parent."
    ),
    parent: str | None = typer.Option(
        None, "--parent", help="Only regions inside this code (dots optional, e.g. 33.02)."
    ),
    limit: int = typer.Option(100, "--limit", min=0, help="Rows to show; 0 shows all."),
) -> None:
    """List administrative regions (Kepmendagri 2025 codes) as a table."""
    import polars as pl

    from dtsen.reference import regions

    parent_code: str | None = None
    if parent is not None:
        parent_code = regions.normalize_code(parent)
        if parent_code is None or regions.lookup(parent_code) is None:
            raise typer.BadParameter(f"no region has code {parent!r}", param_hint="--parent")
        below = [lvl for lvl, depth in _DEPTH.items() if depth > len(parent_code)]
        if not below:
            raise typer.BadParameter("a desa/kelurahan has no regions below it", param_hint="--parent")
        if level is None:
            level = below[0]
        elif level not in below:
            raise typer.BadParameter(f"{level} is not below {parent_code}", param_hint="--level")
    level = level or Level.PROVINSI

    rows = regions.regions().filter(pl.col("level") == str(level))
    if parent_code is not None:
        rows = rows.filter(pl.col("kode").str.starts_with(parent_code))
    total = rows.height
    shown = rows if limit == 0 else rows.head(limit)

    parent_region = regions.lookup(parent_code) if parent_code else None
    where = f" in {parent_region.nama}" if parent_region else ""
    table = Table()
    table.add_column("kode", no_wrap=True)
    table.add_column("nama")
    if level in (Level.KABUPATEN, Level.DESA):
        table.add_column("jenis")
    for kode, nama in shown.select("kode", "nama").iter_rows():
        cells = [regions.dotted(kode), nama]
        if level is Level.KABUPATEN:
            cells.append("kota" if int(kode[2:4]) >= 71 else "kabupaten")
        elif level is Level.DESA:
            cells.append("kelurahan" if kode[6] == "1" else "desa")
        table.add_row(*cells)
    console = _console()
    console.print(f"{level}{where}", markup=False, soft_wrap=True)
    console.print(table)
    console.print(f"{shown.height} of {total} shown", markup=False)


def _resolve_code_list(name: str) -> type[CodeList] | None:
    """A code list by class name (any case) or by a canonical column that uses it (``lantai``)."""
    from dtsen.canonical.model import ENTITIES, all_code_lists

    lists = all_code_lists()
    by_lower = {k.lower(): v for k, v in lists.items()}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    for ent in ENTITIES.values():
        if name in ent and ent.field(name).code_list is not None:
            return ent.field(name).code_list
    return None


def _first_line(cls: type) -> str:
    return " ".join((cls.__dict__.get("__doc__") or "").split())


@app.command("codes")
def codes(
    name: str | None = typer.Argument(
        None, help="A code list (e.g. Lantai) or a column using one (e.g. lantai); omit to list all."
    ),
) -> None:
    """List the code lists, or the codes of one list with Indonesian and English labels."""
    from dtsen.canonical.model import all_code_lists, code_list_usage

    console = _console()
    if name is None:
        usage = code_list_usage()
        table = Table()
        for column in ("name", "codes", "meaning", "columns"):
            table.add_column(column)
        for list_name, cls in all_code_lists().items():
            if isinstance(getattr(cls, "field", None), property):
                first = next(iter(cls)).field  # type: ignore[attr-defined]
                columns = f"{first.split('_')[0]}_* (one per code)"
            else:
                columns = ", ".join(dict.fromkeys(u.split(".", 1)[1] for u in usage.get(list_name, [])))
            table.add_row(list_name, str(len(cls)), _first_line(cls), columns)
        console.print(table)
        return
    cls = _resolve_code_list(name)
    if cls is None:
        known = ", ".join(all_code_lists())
        raise typer.BadParameter(f"no code list or coded column named {name!r}; known lists: {known}")
    has_field = isinstance(getattr(cls, "field", None), property)
    doc = _first_line(cls)
    console.print(f"{cls.__name__}: {doc}" if doc else cls.__name__, markup=False, soft_wrap=True)
    table = Table()
    for column in ("code", "label", "English", *(["column"] if has_field else [])):
        table.add_column(column)
    for member in cls:
        extra = [member.field] if has_field else []  # type: ignore[attr-defined]
        table.add_row(str(int(member)), member.label, member.label_en, *extra)
    console.print(table)


@app.command("check-nik")
def check_nik_command(
    value: str = typer.Argument(..., help="The NIK (or No. KK with --kk); '-' reads it from stdin."),
    kk: bool = typer.Option(False, "--kk", help="Check a Kartu Keluarga number instead of a NIK."),
    birth_date: datetime | None = typer.Option(
        None, "--birth-date", formats=["%Y-%m-%d"], help="The record's birth date, to compare (YYYY-MM-DD)."
    ),
    sex: int | None = typer.Option(None, "--sex", min=1, max=2, help="The record's sex: 1 male, 2 female."),
) -> None:
    """Validate a NIK or No. KK and print the findings, with the identifier masked (exit 1 if invalid)."""
    from dtsen.reference import regions
    from dtsen.reference.codes import JenisKelamin
    from dtsen.reference.nik import check_kk, check_nik

    if value == "-":  # keeps the identifier out of shell history
        value = sys.stdin.readline().strip()
    if kk and (birth_date is not None or sex is not None):
        raise typer.BadParameter("--birth-date and --sex apply to a NIK, not to a KK number")
    what = "No. KK" if kk else "NIK"
    result = (
        check_kk(value)
        if kk
        else check_nik(value, birth_date=birth_date.date() if birth_date else None, sex=sex)
    )
    lines = [f"{what} {mask_identifier(result.digits or value)}", f"valid: {'yes' if result.valid else 'no'}"]
    if result.prefix is not None:
        found = [regions.lookup(result.prefix[:n]) for n in (2, 4)]
        place = " / ".join(r.nama for r in found if r is not None)
        if place:
            lines.append(f"{'issued in' if kk else 'first registered in'}: {place}")
    if result.sex is not None:
        lines.append(f"sex in NIK: {JenisKelamin(result.sex).label_en.lower()}")
    if result.born_or_issued is not None:
        lines.append(f"{'issue date' if kk else 'birth date'}: valid, not shown (personal data)")
    lines.append("findings:" if result.findings else "findings: none")
    lines += [f"  {f.severity.value:<8} {f.code:<28} {_scrub(f.message)}" for f in result.findings]
    typer.echo("\n".join(lines))
    if not result.valid:
        raise typer.Exit(code=1)
