"""Clerical review: pairs in the grey band, both records side by side, and the decisions a person made.

A pair is named by its two records' keys (``sumber:id_rekaman``, sorted), not by run-local row numbers,
so a decision taken on this quarter's queue is honoured next quarter when the same records meet again.
Decisions are appended to ``state/decisions.parquet`` (newest wins) and never deleted.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from dtsen.atomic import atomic_file
from dtsen.tables import REVIEW_DECISIONS, ReviewDecision

SIDE_FIELDS = ("sumber", "id_rekaman", "nik", "nama", "tanggal_lahir", "jenis_kelamin", "kode_desa", "no_kk")
VALID = tuple(ReviewDecision)


class ReviewError(ValueError):
    """A decision could not be recorded; the message says why."""


def decisions_path(state_dir: Path) -> Path:
    return state_dir / "decisions.parquet"


def load_decisions(state_dir: Path) -> pl.DataFrame:
    """The latest decision per pair."""
    path = decisions_path(state_dir)
    if not path.exists():
        return REVIEW_DECISIONS.empty()
    return pl.read_parquet(path).sort("waktu").unique("id_pasangan", keep="last", maintain_order=True)


def pair_ids(pairs: pl.DataFrame, records: pl.DataFrame) -> pl.DataFrame:
    """``pairs`` (rid_l, rid_r, ...) with id_pasangan from the two record keys."""
    keys = records.select("rid", key=pl.format("{}:{}", "sumber", "id_rekaman"))
    p = pairs.join(keys.rename({"rid": "rid_l", "key": "_kl"}), on="rid_l").join(
        keys.rename({"rid": "rid_r", "key": "_kr"}), on="rid_r"
    )
    return p.with_columns(
        id_pasangan=pl.when(pl.col("_kl") <= pl.col("_kr"))
        .then(pl.format("{}|{}", "_kl", "_kr"))
        .otherwise(pl.format("{}|{}", "_kr", "_kl"))
    ).drop("_kl", "_kr")


def pending(low: float, high: float) -> pl.Expr:
    """Pairs waiting for a clerk: undecided, and in the grey band [low, high) or, scored at least
    ``low``, refused by the model because names and birth data both disagree (``ditolak``)."""
    score = pl.col("probabilitas")
    band = (score >= low) & ((score < high) | pl.col("ditolak"))
    return band & pl.col("keputusan").is_null()


def queue_size(pairs: pl.DataFrame, low: float, high: float) -> dict[str, int]:
    """How big the review queue is: pairs, and distinct records in them (what a clerk opens)."""
    waiting = pairs.filter(pending(low, high))
    records = pl.concat([waiting["rid_l"], waiting["rid_r"]]).n_unique() if waiting.height else 0
    return {"review": waiting.height, "review_records": records}


def queue(pairs: pl.DataFrame, records: pl.DataFrame, low: float, high: float) -> pl.DataFrame:
    """review.parquet: pending pairs (and every decided pair) with both records side by side."""
    grey = pairs.filter(pending(low, high) | pl.col("keputusan").is_not_null())
    side = records.select("rid", *SIDE_FIELDS)
    out = grey.join(side.rename({c: f"kiri_{c}" for c in SIDE_FIELDS}).rename({"rid": "rid_l"}), on="rid_l")
    out = out.join(side.rename({c: f"kanan_{c}" for c in SIDE_FIELDS}).rename({"rid": "rid_r"}), on="rid_r")
    status = pl.coalesce(pl.col("keputusan"), pl.lit("menunggu"))
    return (
        out.select(
            "id_pasangan",
            *[f"kiri_{c}" for c in SIDE_FIELDS],
            *[f"kanan_{c}" for c in SIDE_FIELDS],
            "probabilitas",
            "bukti",
            status.alias("status"),
        )
        .sort(["probabilitas", "id_pasangan"], descending=[True, False])  # ties in a fixed order
        .unique("id_pasangan", keep="first", maintain_order=True)
    )


def decide(state_dir: Path, id_pasangan: str, keputusan: str, oleh: str | None = None) -> None:
    """Record a decision (appended; the file is rewritten atomically)."""
    if keputusan not in VALID:
        raise ReviewError(f"decision {keputusan!r}: use one of {', '.join(VALID)}")
    if "|" not in id_pasangan:
        raise ReviewError(f"{id_pasangan!r} is not a pair id (two record keys joined by '|')")
    row = pl.DataFrame(
        {
            "id_pasangan": [id_pasangan],
            "keputusan": [keputusan],
            "oleh": [oleh or getpass.getuser()],
            "waktu": [datetime.now(UTC)],
        },
        schema=REVIEW_DECISIONS.polars,
    )
    path = decisions_path(state_dir)
    old = pl.read_parquet(path) if path.exists() else REVIEW_DECISIONS.empty()
    with atomic_file(path) as tmp:
        pl.concat([old, row]).write_parquet(tmp)
