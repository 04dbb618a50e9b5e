"""``dtsen programs list|check FILE``: the program definitions (programs as data)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from dtsen.cli.progress import stderr

console = Console()
app = typer.Typer(help="Program definitions (YAML): list them, check a new or changed file.")


def _rupiah(value: int) -> str:
    return f"Rp {value:,}".replace(",", ".")


@app.command("list")
def programs_list(
    directory: Path | None = typer.Option(
        None, "--dir", help="A directory of definitions (default: shipped)."
    ),
) -> None:
    """Every program: target desil, benefit, amounts, exclusions and list unit."""
    from dtsen.programs.definition import ProgramError, load_programs

    try:
        programs = load_programs(directory)
    except ProgramError as exc:
        stderr.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    table = Table(title="Programs")
    for col in ("code", "name", "target", "benefit", "per year", "exclusions", "list"):
        table.add_column(col, overflow="fold")
    for code, (p, exclusions) in programs.items():
        if p.benefit == "components":
            amount = "; ".join(f"{c.code} {_rupiah(c.amount)}" for c in p.components)
            amount += f" (max {p.max_persons} persons)" if p.max_persons else ""
        elif p.benefit == "members":
            amount = f"{_rupiah(p.member_amount)} per member" + (
                "; keeps " + ", ".join(k.code for k in p.keep) if p.keep else ""
            )
        else:
            amount = f"{_rupiah(p.family_amount)} per family"
        table.add_row(
            code,
            p.name,
            f"{p.target.desil} <= {p.target.max}",
            p.benefit,
            f"{amount}; {p.payments_per_year} payment(s)",
            ", ".join(e.reason for e in exclusions),
            p.unit,
        )
    console.print(table)


@app.command("check")
def programs_check(
    file: Path = typer.Argument(..., help="A program definition (.yaml) to validate."),
) -> None:
    """Validate a definition against the schema, the canonical model and the code lists."""
    from dtsen.programs.definition import ProgramError, load_program

    try:
        program, exclusions = load_program(file)
    except ProgramError as exc:
        stderr.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(
        f"[green]{file}: program {program.code} is valid[/green] ({program.benefit}, "
        f"{len(program.components)} component(s), {len(exclusions)} exclusion(s), "
        f"{len(program.list_fields)} list field(s))"
    )
