"""Link our own test sets the way a user would and measure person pairwise accuracy against the truth.

For each set: generate its exports (``generate.py``) into a work directory, ingest every file with the
mapping of the same stem (``<set>/mappings/<stem>.yaml``; the mapping files are the only configuration),
run the linkage with the default model, then score the clusters (``id_dtsen``) against ``truth.csv``.
Linkage settings are read from ``<set>/linkage.yaml`` only when that file exists; it may declare the
sources and nothing else (no thresholds, no comparisons), so what is measured is the default model.

A row ingestion rejected, or a registry row that matched nobody (``id_dtsen`` null), counts as a cluster
of its own: the person's other records then miss it, which is what a user of the output would see.

Besides the scores each set's line gives, per file, how many records stay apart from the cluster of
their true person (``split``: the person's register row, else the cluster holding most of their
records) and how many sit in a cluster owned by another person (``merged``: the cluster's register row,
else its majority), so a lower F1 points at the file and the kind of error.

    python tests/linkage_sets/evaluate.py [--set kabupaten] [--keep DIR] [--seed 15] [--families 1100]
    cd tests && python -m linkage_sets.evaluate       # the same as a module (a package installed in
                                                      # site-packages is called tests, so not tests.*)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

try:
    from .generate import SEED, SETS, generate
except ImportError:  # run as a script: python tests/linkage_sets/evaluate.py
    from generate import SEED, SETS, generate  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent


def settings_for(name: str) -> Any:
    """The set's linkage settings: ``<set>/linkage.yaml`` (sources only) when present, else the defaults."""
    from dtsen.linkage.config import LinkConfig

    path = HERE / name / "linkage.yaml"
    return LinkConfig.from_yaml(path) if path.is_file() else LinkConfig()


def run_set(name: str, work: Path, seed: int = SEED, families: int = 1100, engine: str | None = None) -> Path:
    """Generate, ingest (one batch per file, through its mapping) and link one set; the link directory."""
    from dtsen.linkage.run import link
    from dtsen.sources.ingest import ingest

    exports = generate(work / "exports", seed, families, (name,))[name]
    mappings = sorted((HERE / name / "mappings").glob("*.yaml"))
    if not mappings:
        raise FileNotFoundError(f"{HERE / name / 'mappings'}: no mapping files")
    batches = []
    for mapping in mappings:
        data = exports / f"{mapping.stem}.csv"
        if not data.is_file():
            raise FileNotFoundError(f"{mapping}: no export {data.name} for this mapping")
        result = ingest(str(mapping), [data], data_dir=work / "data", engine=engine)
        if result.directory is None:
            raise RuntimeError(f"{mapping}: nothing was ingested ({'; '.join(result.notes)})")
        batches.append(result.directory)
    out = work / "link"
    link(batches, out, work / "state", engine=engine, config=settings_for(name), run=name)
    return out


def measure(link_dir: Path, truth_csv: Path, register: str) -> dict[str, Any]:
    """Pairwise scores of ``id_dtsen`` against the true persons, and per file what went wrong
    (``register``: the spine source, whose row decides who owns a cluster)."""
    from dtsen.linkage.evaluate import pairwise

    truth = pl.read_csv(truth_csv, schema_overrides={"baris": pl.Int64})
    links = pl.read_parquet(link_dir / "links.parquet").select(
        "berkas", pl.col("baris").cast(pl.Int64), "id_dtsen", spine=pl.col("sumber") == register
    )
    j = (
        truth.join(links, on=["berkas", "baris"], how="left")
        .with_row_index("row")
        .with_columns(
            linked=pl.col("id_dtsen").is_not_null(),
            cluster=pl.coalesce(pl.col("id_dtsen").cast(pl.String), pl.format("_{}", pl.col("row"))),
            rejected=pl.col("spine").is_null(),
            spine=pl.col("spine").fill_null(False),
        )
    )
    out: dict[str, Any] = pairwise(j.select("cluster", person="person_id"))
    # the owner of a cluster: the person of its register row, else the person with most records in it
    owner = (
        j.group_by("cluster", "person_id")
        .agg(spine=pl.col("spine").any(), n=pl.len())
        .sort(["cluster", "spine", "n", "person_id"], descending=[False, True, True, False])
        .unique("cluster", keep="first", maintain_order=True)
        .select("cluster", owner="person_id")
    )
    # the home of a person: the cluster of their register row, else the cluster holding most of them
    home = (
        j.group_by("person_id", "cluster")
        .agg(spine=pl.col("spine").any(), n=pl.len())
        .sort(["person_id", "spine", "n", "cluster"], descending=[False, True, True, False])
        .unique("person_id", keep="first", maintain_order=True)
        .select("person_id", home="cluster")
    )
    j = j.join(owner, on="cluster").join(home, on="person_id")
    registered = j.filter(pl.col("spine")).select("person_id").unique()
    j = j.with_columns(
        merged=pl.col("owner") != pl.col("person_id"),
        split=(pl.col("owner") == pl.col("person_id")) & (pl.col("cluster") != pl.col("home")),
        in_register=pl.col("person_id").is_in(registered["person_id"].implode()),
    )
    by_file = j.group_by("berkas").agg(
        records=pl.len(),
        rejected=pl.col("rejected").sum(),
        no_person=(~pl.col("linked") & ~pl.col("rejected")).sum(),
        not_in_register=(~pl.col("in_register")).sum(),
        split=pl.col("split").sum(),
        merged=pl.col("merged").sum(),
        merged_not_in_register=(pl.col("merged") & ~pl.col("in_register")).sum(),
    )
    out["records"] = j.height
    out["persons"] = j["person_id"].n_unique()
    out["by_file"] = {r.pop("berkas"): r for r in by_file.sort("berkas").iter_rows(named=True)}
    return out


def evaluate_set(
    name: str, work: Path, seed: int = SEED, families: int = 1100, engine: str | None = None
) -> dict[str, Any]:
    """One set end to end: its scores as one dict (``set``, precision/recall/F1, ``by_file``, seconds)."""
    started = time.perf_counter()
    link_dir = run_set(name, work, seed, families, engine)
    truth = work / "exports" / name / "truth.csv"
    result = {"set": name, **measure(link_dir, truth, settings_for(name).spine_source)}
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="Link our own test sets and print one JSON line per set.")
    parser.add_argument("--set", choices=SETS, action="append", help="default: every set")
    parser.add_argument("--keep", type=Path, help="keep exports, batches and link output here")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--families", type=int, default=1100)
    parser.add_argument("--engine", choices=("duckdb", "spark"))
    args = parser.parse_args()
    for name in args.set or SETS:
        with tempfile.TemporaryDirectory(prefix=f"linkage_set_{name}_") as tmp:
            work = (args.keep / name) if args.keep else Path(tmp)
            print(json.dumps(evaluate_set(name, work, args.seed, args.families, args.engine)), flush=True)


if __name__ == "__main__":
    main()
