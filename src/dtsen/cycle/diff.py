"""What changed between two snapshots, and why: entrants, exits and desil moves with their causes.

Families (by ``id_keluarga_dtsen``) enter or leave the registry, move desil, and enter or leave each
program. Each change gets its causes, derived from what changed between the snapshots:

* ``peristiwa``: a civil-registration event changed the family or a member (new provenance rows with
  sumber ``peristiwa_dukcapil``, or new lineage naming the family);
* ``koreksi``: an approved correction did (new provenance rows with sumber ``koreksi_*``);
* ``perubahan_data``: the family's or its members' data changed otherwise (new source data), or the
  members' program components changed (a child started school, a member turned 60);
* ``model``: the welfare model version differs (``versi_model`` in the manifests);
* ``aturan_program``: the program definition changed (its SHA-256 in ``programs.json``);
* ``pergeseran_peringkat``: none of these; the rank moved because other families changed.

``sebab_utama`` is the first of these in that order. Counts by region go with a JSON-able summary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from dtsen.cycle.events import EVENT_SOURCE
from dtsen.cycle.snapshot import Snapshot

NOT_HASHED = {"umur"}  # ages move every quarter for everyone; component changes catch what matters


@dataclass
class SnapshotDiff:
    keluarga: pl.DataFrame  # id_keluarga_dtsen, perubahan, desil_lama, desil_baru, sebab, sebab_utama, region
    program: pl.DataFrame  # program, id_keluarga_dtsen, perubahan, alasan_lama, alasan_baru, sebab, ...
    wilayah: pl.DataFrame  # bagian, perubahan, sebab_utama, kode_prov, kode_kab, jumlah
    summary: dict[str, Any]

    def write(self, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.keluarga.write_parquet(out_dir / "diff_keluarga.parquet")
        self.program.write_parquet(out_dir / "diff_program.parquet")
        self.wilayah.write_parquet(out_dir / "diff_wilayah.parquet")
        (out_dir / "diff.json").write_text(
            json.dumps(self.summary, indent=2, sort_keys=True), encoding="utf-8"
        )


def _read(snapshot: Snapshot, name: str, columns: list[str] | None = None) -> pl.DataFrame | None:
    return pl.read_parquet(snapshot.file(name), columns=columns) if snapshot.has(name) else None


def _model_version(snapshot: Snapshot) -> str | None:
    if snapshot.manifest.get("model_version"):
        return str(snapshot.manifest["model_version"])
    scores = _read(snapshot, "scores.parquet")
    if scores is not None and "versi_model" in scores.columns and scores.height:
        return (
            str(scores["versi_model"].drop_nulls().mode().sort()[0])
            if scores["versi_model"].null_count() < scores.height
            else None
        )
    return None


def _program_digests(snapshot: Snapshot) -> dict[str, str | None]:
    for name in ("programs.json", "programs/programs.json"):
        if snapshot.has(name):
            data = json.loads(snapshot.file(name).read_text(encoding="utf-8"))
            return {code: p.get("definition_sha256") for code, p in data.get("programs", {}).items()}
    return {}


def _family_hash(snapshot: Snapshot) -> pl.DataFrame:
    """Per family: a hash of its row and one of its members' rows (ages left out)."""
    fam = pl.read_parquet(snapshot.file("families.parquet"))
    fam = fam.select(
        "id_keluarga_dtsen",
        pl.struct(sorted(c for c in fam.columns if c not in NOT_HASHED)).hash().alias("_hf"),
    )
    persons = pl.read_parquet(snapshot.file("persons.parquet"))
    cols = sorted(c for c in persons.columns if c not in NOT_HASHED)
    members = persons.group_by("id_keluarga_dtsen").agg((pl.struct(cols).hash() // 256).sum().alias("_hp"))
    return fam.join(members, on="id_keluarga_dtsen", how="left")


def _touched(new: Snapshot, old: Snapshot, persons_new: pl.DataFrame) -> pl.DataFrame:
    """Families touched by new event or correction provenance (and lineage) since ``old``: id, peristiwa,
    koreksi."""
    empty = pl.DataFrame(
        schema={"id_keluarga_dtsen": pl.String(), "peristiwa": pl.Boolean(), "koreksi": pl.Boolean()}
    )
    rows = []
    if new.has("provenance.parquet"):
        # only event and correction rows matter: filtered while scanning (the file has ~57 M rows at 1 M)
        keys = ["entitas", "id", "atribut", "sumber", "batch_id"]
        changed = pl.col("sumber").eq(EVENT_SOURCE) | pl.col("sumber").str.starts_with("koreksi_")
        fresh = pl.scan_parquet(new.file("provenance.parquet")).filter(changed).collect()
        if old.has("provenance.parquet"):
            seen = pl.scan_parquet(old.file("provenance.parquet")).filter(changed).select(keys)
            fresh = fresh.join(seen.unique().collect(), on=keys, how="anti")
        person_family = persons_new.select(pl.col("id_dtsen").alias("id"), "id_keluarga_dtsen")
        by_person = fresh.filter(pl.col("entitas") == "person").join(person_family, on="id", how="inner")
        by_family = fresh.filter(pl.col("entitas") == "family").with_columns(
            pl.col("id").alias("id_keluarga_dtsen")
        )
        for part in (by_person, by_family):
            rows.append(
                part.select(
                    "id_keluarga_dtsen",
                    (pl.col("sumber") == EVENT_SOURCE).alias("peristiwa"),
                    pl.col("sumber").str.starts_with("koreksi_").alias("koreksi"),
                )
            )
    lin_new = _read(new, "lineage.parquet")
    if lin_new is not None:
        lin_old = _read(old, "lineage.parquet")
        fresh_lin = lin_new.filter(pl.col("jenis_id") == "family")
        if lin_old is not None:
            fresh_lin = fresh_lin.join(lin_old, on=list(lin_new.columns), how="anti")
        ids = pl.concat(
            [
                fresh_lin.select(pl.col("id_lama").alias("id_keluarga_dtsen")),
                fresh_lin.select(pl.col("id_baru").alias("id_keluarga_dtsen")),
            ]
        )
        rows.append(ids.with_columns(peristiwa=pl.lit(True), koreksi=pl.lit(False)))
    if not rows:
        return empty
    return (
        pl.concat(rows).group_by("id_keluarga_dtsen").agg(pl.col("peristiwa").any(), pl.col("koreksi").any())
    )


def _causes(frame: pl.DataFrame, model_changed: bool, extra: list[pl.Expr] | None = None) -> pl.DataFrame:
    """Adds ``sebab`` (list) and ``sebab_utama`` from the boolean columns peristiwa, koreksi, data."""
    flags = {
        "peristiwa": pl.col("peristiwa").fill_null(False),
        "koreksi": pl.col("koreksi").fill_null(False),
        "perubahan_data": pl.col("data").fill_null(False),
        "model": pl.lit(model_changed),
        "aturan_program": pl.col("aturan").fill_null(False) if "aturan" in frame.columns else pl.lit(False),
    }
    parts = [pl.when(expr).then(pl.lit(name)) for name, expr in flags.items()]
    frame = frame.with_columns(pl.concat_list(parts).list.drop_nulls().alias("sebab"))
    frame = frame.with_columns(
        pl.when(pl.col("sebab").list.len() == 0)
        .then(pl.lit(["pergeseran_peringkat"]))
        .otherwise(pl.col("sebab"))
        .alias("sebab")
    )
    return frame.with_columns(pl.col("sebab").list.first().alias("sebab_utama"))


def diff_snapshots(old: Snapshot, new: Snapshot) -> SnapshotDiff:
    """Entrants, exits and desil moves of families and program entrants/exits from ``old`` to ``new``."""
    persons_new = pl.read_parquet(new.file("persons.parquet"), columns=["id_dtsen", "id_keluarga_dtsen"])
    touched = _touched(new, old, persons_new)
    h_old, h_new = _family_hash(old), _family_hash(new)
    data = h_new.join(h_old, on="id_keluarga_dtsen", how="full", suffix="_old", coalesce=True).select(
        "id_keluarga_dtsen",
        (
            (pl.col("_hf") != pl.col("_hf_old"))
            | (pl.col("_hp").fill_null(0) != pl.col("_hp_old").fill_null(0))
        )
        .fill_null(True)
        .alias("data"),
    )
    base = data.join(touched, on="id_keluarga_dtsen", how="left")
    versions = (_model_version(old), _model_version(new))
    model_changed = versions[0] != versions[1]

    cols = ["id_keluarga_dtsen", "desil_nasional", "kode_prov", "kode_kab"]
    s_old, s_new = (
        pl.read_parquet(old.file("scores.parquet"), columns=cols),
        pl.read_parquet(new.file("scores.parquet"), columns=cols),
    )
    fam_old = pl.read_parquet(
        old.file("families.parquet"), columns=["id_keluarga_dtsen", "kode_prov", "kode_kab"]
    )
    fam_new = pl.read_parquet(
        new.file("families.parquet"), columns=["id_keluarga_dtsen", "kode_prov", "kode_kab"]
    )
    both = (
        fam_new.join(fam_old, on="id_keluarga_dtsen", how="full", suffix="_old", coalesce=True)
        .join(
            s_new.select("id_keluarga_dtsen", pl.col("desil_nasional").alias("desil_baru")),
            on="id_keluarga_dtsen",
            how="left",
        )
        .join(
            s_old.select("id_keluarga_dtsen", pl.col("desil_nasional").alias("desil_lama")),
            on="id_keluarga_dtsen",
            how="left",
        )
        .with_columns(
            pl.col("kode_prov").fill_null(pl.col("kode_prov_old")),
            pl.col("kode_kab").fill_null(pl.col("kode_kab_old")),
            _in_new=pl.col("id_keluarga_dtsen").is_in(fam_new["id_keluarga_dtsen"].implode()),
            _in_old=pl.col("id_keluarga_dtsen").is_in(fam_old["id_keluarga_dtsen"].implode()),
        )
    )
    change = (
        pl.when(~pl.col("_in_old"))
        .then(pl.lit("masuk"))
        .when(~pl.col("_in_new"))
        .then(pl.lit("keluar"))
        .when(pl.col("desil_baru") > pl.col("desil_lama"))
        .then(pl.lit("desil_naik"))
        .when(pl.col("desil_baru") < pl.col("desil_lama"))
        .then(pl.lit("desil_turun"))
    )
    keluarga = both.with_columns(change.alias("perubahan")).filter(pl.col("perubahan").is_not_null())
    keluarga = _causes(keluarga.join(base, on="id_keluarga_dtsen", how="left"), model_changed)
    keluarga = keluarga.select(
        "id_keluarga_dtsen",
        "perubahan",
        "desil_lama",
        "desil_baru",
        "sebab",
        "sebab_utama",
        "kode_prov",
        "kode_kab",
    ).sort("id_keluarga_dtsen")

    program = _program_changes(old, new, base, model_changed)
    wilayah = (
        pl.concat(
            [
                keluarga.select(
                    pl.lit("keluarga").alias("bagian"), "perubahan", "sebab_utama", "kode_prov", "kode_kab"
                ),
                program.select(
                    pl.col("program").alias("bagian"), "perubahan", "sebab_utama", "kode_prov", "kode_kab"
                ),
            ]
        )
        .group_by("bagian", "perubahan", "sebab_utama", "kode_prov", "kode_kab")
        .len("jumlah")
        .sort("bagian", "perubahan", "sebab_utama", "kode_prov", "kode_kab", nulls_last=True)
    )
    summary = {
        "lama": old.ref,
        "baru": new.ref,
        "model": {"lama": versions[0], "baru": versions[1]},
        "keluarga": _counts(keluarga),
        "program": {
            p: _counts(g) for (p,), g in sorted(program.group_by("program"), key=lambda x: str(x[0]))
        },
    }
    return SnapshotDiff(keluarga, program, wilayah, summary)


def _counts(frame: pl.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = (
        dict.fromkeys(("masuk", "keluar", "desil_naik", "desil_turun"), 0)
        if "desil_lama" in frame.columns
        else {"masuk": 0, "keluar": 0}
    )
    for (change,), group in frame.group_by("perubahan"):
        out[str(change)] = group.height
    out["sebab"] = {
        str(k): int(v) for k, v in frame.group_by("sebab_utama").len().sort("sebab_utama").iter_rows()
    }
    return out


def _program_changes(old: Snapshot, new: Snapshot, base: pl.DataFrame, model_changed: bool) -> pl.DataFrame:
    cols = ["program", "id_keluarga_dtsen", "layak", "alasan", "kode_prov", "kode_kab"]
    e_old = pl.read_parquet(old.file("eligibility.parquet"), columns=cols)
    e_new = pl.read_parquet(new.file("eligibility.parquet"), columns=cols)
    keys = ["program", "id_keluarga_dtsen"]
    joined = e_new.join(e_old, on=keys, how="full", suffix="_lama", coalesce=True).with_columns(
        pl.col("layak").fill_null(False),
        pl.col("layak_lama").fill_null(False),
        pl.col("kode_prov").fill_null(pl.col("kode_prov_lama")),
        pl.col("kode_kab").fill_null(pl.col("kode_kab_lama")),
    )
    joined = joined.with_columns(
        pl.when(pl.col("layak") & ~pl.col("layak_lama"))
        .then(pl.lit("masuk"))
        .when(~pl.col("layak") & pl.col("layak_lama"))
        .then(pl.lit("keluar"))
        .alias("perubahan")
    ).filter(pl.col("perubahan").is_not_null())
    components = [
        pl.col(c).list.eval(pl.element().filter(pl.element().str.starts_with("komponen_"))).list.sort()
        for c in ("alasan", "alasan_lama")
    ]
    digests_old, digests_new = _program_digests(old), _program_digests(new)
    changed_rules = [p for p in digests_new if digests_new.get(p) != digests_old.get(p) and p in digests_old]
    joined = joined.with_columns(
        (components[0].fill_null([]) != components[1].fill_null([])).alias("_komponen"),
        pl.col("program").is_in(changed_rules).alias("aturan"),
    ).join(base, on="id_keluarga_dtsen", how="left")
    joined = joined.with_columns((pl.col("data").fill_null(False) | pl.col("_komponen")).alias("data"))
    joined = _causes(joined, model_changed)
    return (
        joined.rename({"alasan": "alasan_baru"})
        .select(
            "program",
            "id_keluarga_dtsen",
            "perubahan",
            "alasan_lama",
            "alasan_baru",
            "sebab",
            "sebab_utama",
            "kode_prov",
            "kode_kab",
        )
        .sort(keys)
    )
