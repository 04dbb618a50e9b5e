"""``dtsen snapshot list|show|verify|diff``: the published quarterly snapshots."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from dtsen.cli.progress import stderr

console = Console()
app = typer.Typer(help="Published snapshots: list, show a manifest, verify checksums, diff two periods.")

DATA_DIR = typer.Option(None, "--data-dir", help="Data directory (default: DTSEN_DATA_DIR).")


def _open(ref: str, data_dir: Path | None):
    from dtsen.cycle.snapshot import SnapshotError, open_snapshot

    try:
        return open_snapshot(ref, data_dir)
    except SnapshotError as exc:
        stderr.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


@app.command("list")
def snapshot_list(data_dir: Path | None = DATA_DIR) -> None:
    """Every published snapshot, oldest first; the current one is marked."""
    from dtsen.cycle.snapshot import current, list_snapshots

    snaps = list_snapshots(data_dir)
    if not snaps:
        console.print("no snapshot published yet")
        return
    now = current(data_dir)
    table = Table(title="Snapshots")
    for col in ("", "snapshot", "created", "model", "files", "rows (persons)"):
        table.add_column(col)
    for s in snaps:
        rows = {f["name"]: f["rows"] for f in s.manifest.get("files", [])}.get("persons.parquet")
        table.add_row(
            "*" if now and now.ref == s.ref else "",
            s.ref,
            s.manifest.get("created_at", ""),
            str(s.manifest.get("model_version") or ""),
            str(len(s.files)),
            f"{rows:,}" if rows is not None else "",
        )
    console.print(table)


@app.command("show")
def snapshot_show(
    ref: str = typer.Argument("current", help="current, 2026Q1 (latest version), 2026Q1/v2 or a directory."),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
    data_dir: Path | None = DATA_DIR,
) -> None:
    """A snapshot's manifest: files with rows, bytes and SHA-256, inputs, model version."""
    s = _open(ref, data_dir)
    if as_json:
        typer.echo(json.dumps(s.manifest, indent=2, sort_keys=True))
        return
    console.print(f"[bold]{s.ref}[/bold]  {s.path}")
    console.print(f"created {s.manifest.get('created_at')}  model {s.manifest.get('model_version')}")
    for key, value in sorted((s.manifest.get("inputs") or {}).items()):
        console.print(f"  input {key}: {value}")
    table = Table()
    for col in ("file", "rows", "bytes", "sha256"):
        table.add_column(col)
    for f in s.manifest.get("files", []):
        table.add_row(
            f["name"], "" if f["rows"] is None else f"{f['rows']:,}", f"{f['bytes']:,}", f["sha256"][:16]
        )
    console.print(table)


@app.command("verify")
def snapshot_verify(
    ref: str = typer.Argument("current", help="current, 2026Q1, 2026Q1/v2, or 'all'."),
    data_dir: Path | None = DATA_DIR,
) -> None:
    """Recompute every checksum and check the manifest against the hash chain (``all``: the whole chain,
    and its head against the audit log when a serving database is configured); exit 1 when a file is
    missing, extra or changed, or a manifest was edited or the chain is broken."""
    from dtsen.config import get_settings
    from dtsen.cycle import manifest_chain
    from dtsen.cycle.snapshot import list_snapshots, snapshots_dir, verify

    snaps = list_snapshots(data_dir) if ref == "all" else [_open(ref, data_dir)]
    bad = False
    for s in snaps:
        chain_problems, notes = manifest_chain.verify_manifest(s, s.path.parent.parent)
        problems = verify(s) + chain_problems
        if problems:
            bad = True
            console.print(f"[red]{s.ref}: {len(problems)} problem(s)[/red]")
            for p in problems:
                console.print(f"  {p}")
        else:
            console.print(f"[green]{s.ref}: {len(s.files)} files intact[/green]")
        for note in notes:
            console.print(f"  [yellow]note:[/yellow] {note}")
    if ref == "all":
        problems, notes = manifest_chain.verify_chain(
            snapshots_dir(data_dir), audit_url=get_settings().database_url
        )
        for p in problems:
            console.print(f"[red]chain:[/red] {p}")
        for note in notes:
            console.print(f"[yellow]chain note:[/yellow] {note}")
        bad = bad or bool(problems)
    if bad:
        raise typer.Exit(1)


@app.command("diff")
def snapshot_diff(
    old: str = typer.Argument(..., help="The earlier snapshot (2026Q1, 2026Q1/v1, ...)."),
    new: str = typer.Argument("current", help="The later snapshot."),
    out: Path | None = typer.Option(None, "--out", help="Write diff tables (Parquet) and diff.json here."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    data_dir: Path | None = DATA_DIR,
) -> None:
    """Entrants, exits and desil moves (families and each program), with causes and counts by region."""
    from dtsen.cycle.diff import diff_snapshots

    result = diff_snapshots(_open(old, data_dir), _open(new, data_dir))
    if out is not None:
        result.write(out)
    if as_json:
        typer.echo(json.dumps(result.summary, indent=2, sort_keys=True))
        return
    summary = result.summary
    console.print(
        f"[bold]{summary['lama']} -> {summary['baru']}[/bold]  model {summary['model']['lama']} -> "
        f"{summary['model']['baru']}"
    )
    table = Table()
    for col in ("part", "entrants", "exits", "desil up", "desil down", "main causes"):
        table.add_column(col)
    parts = [("families", summary["keluarga"]), *summary["program"].items()]
    for name, c in parts:
        causes = ", ".join(f"{k} {v:,}" for k, v in sorted(c["sebab"].items(), key=lambda kv: -kv[1]))
        table.add_row(
            name,
            f"{c['masuk']:,}",
            f"{c['keluar']:,}",
            f"{c.get('desil_naik', '')}",
            f"{c.get('desil_turun', '')}",
            causes,
        )
    console.print(table)
    if out is not None:
        console.print(f"tables written to {out}")


@app.command("integrity")
def snapshot_integrity(
    ref: str = typer.Argument("current", help="current, 2026Q1, 2026Q1/v2 or a directory."),
    synth: Path | None = typer.Option(
        None,
        "--synth",
        help="A dtsen synth directory: also judge desil 1 and the unranked families against its truth.",
    ),
    data_dir: Path | None = DATA_DIR,
) -> None:
    """Who is ranked and who is not (by reason), and with --synth how desil 1 compares with the truth
    before and after the ranking-integrity rules; one JSON object."""
    import polars as pl

    from dtsen.welfare.integrity import explanation_problems, status_by_region, truth_check
    from dtsen.welfare.rankable import RANKED

    s = _open(ref, data_dir)
    scores = pl.read_parquet(s.file("scores.parquet"))
    out: dict[str, object] = {"snapshot": s.ref}
    if "status_peringkat" in scores.columns:
        counts = scores.group_by(a=pl.col("alasan_tidak_diperingkat").fill_null(RANKED)).len().sort("a")
        out["keluarga"] = {row["a"]: row["len"] for row in counts.to_dicts()}
        out["per_kabkota"] = status_by_region(scores, "kode_kab")
    problems = explanation_problems(s.path)
    out["kalimat_tanpa_data"] = problems.height
    out["contoh_kalimat_tanpa_data"] = problems.head(5).drop("id_keluarga_dtsen").to_dicts()
    if synth is not None:
        if not (synth / "truth").is_dir():
            stderr.print(f"[red]error:[/red] {synth} has no truth/ folder (is it a dtsen synth directory?)")
            raise typer.Exit(2)
        out["kebenaran"] = truth_check(s.path, synth)
    typer.echo(json.dumps(out, indent=2, default=str))


@app.command("pendataan")
def snapshot_pendataan(
    ref: str = typer.Argument("current", help="current, 2026Q1, 2026Q1/v2 or a directory."),
    region: str | None = typer.Option(None, "--region", help="Region code prefix (34, 3471, 3471011001...)."),
    out: Path | None = typer.Option(None, "--out", help="Write the queue as CSV here instead of a summary."),
    data_dir: Path | None = DATA_DIR,
) -> None:
    """The field queue of a region: unranked families (pendataan) first, then families ranked on
    administrative data only, then borderline families; CSV for the desa operator and facilitators."""
    from dtsen.welfare.integrity import field_queue

    s = _open(ref, data_dir)
    try:
        queue = field_queue(s.path, region)
    except ValueError as exc:
        stderr.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        queue.write_csv(out)
        console.print(f"{queue.height:,} families -> {out}")
        return
    counts = (
        queue.group_by("kategori", "alasan_tidak_diperingkat")
        .len()
        .sort("kategori", "alasan_tidak_diperingkat")
    )
    table = Table(title=f"Antrean lapangan {s.ref}" + (f" wilayah {region}" if region else ""))
    for col in ("kategori", "alasan", "keluarga"):
        table.add_column(col)
    for row in counts.iter_rows():
        table.add_row(row[0], row[1] or "", f"{row[2]:,}")
    console.print(table)
