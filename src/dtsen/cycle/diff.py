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

The national-size work (row digests of every family and person, the joins of both snapshots' families,
scores, eligibility and provenance) runs in the engine on the snapshots' Parquet files (DuckDB or Spark,
one Ibis definition); only the changed rows reach Polars.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import polars as pl

from dtsen.cycle.events import EVENT_SOURCE
from dtsen.cycle.snapshot import Snapshot
from dtsen.engine import Engine, get_engine, work_dir

NOT_HASHED = {"umur"}  # ages move every quarter for everyone; component changes catch what matters
FAMILY = "id_keluarga_dtsen"


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


def _model_version(eng: Engine, snapshot: Snapshot) -> str | None:
    """The manifest's model version, else the most frequent ``versi_model`` of the scores (the smallest
    of equally frequent ones)."""
    if snapshot.manifest.get("model_version"):
        return str(snapshot.manifest["model_version"])
    if not snapshot.has("scores.parquet"):
        return None
    scores = eng.read_parquet(snapshot.file("scores.parquet"))
    if "versi_model" not in scores.columns:
        return None
    mode = (
        scores.filter(scores.versi_model.notnull())
        .group_by("versi_model")
        .agg(n=ibis._.count())
        .order_by([ibis.desc("n"), "versi_model"])
        .limit(1)
    )
    rows = eng.to_pyarrow(mode).column("versi_model").to_pylist()
    return str(rows[0]) if rows else None


def _program_digests(snapshot: Snapshot) -> dict[str, str | None]:
    for name in ("programs.json", "programs/programs.json"):
        if snapshot.has(name):
            data = json.loads(snapshot.file(name).read_text(encoding="utf-8"))
            return {code: p.get("definition_sha256") for code, p in data.get("programs", {}).items()}
    return {}


def _encode(value: ir.Value) -> ir.StringValue:
    """A value as text that keeps rows apart once joined with commas, without a comma of its own breaking
    the join: a number, boolean or date as its text (never empty, no comma); any other value as its
    length, ``:`` and its text; a list as its length, ``:`` and its items so encoded, joined with commas.
    Null is the empty text, which no value encodes to: a null never meets an empty string, nor an empty
    list a null one (``0:`` and the empty text) or one holding a null (``1:``)."""
    dtype = value.type()
    if dtype.is_array():
        items = value.map(_encode).join(",").fill_null("")  # Spark joins an empty list to null
        text = value.length().cast("string").concat(":", items)
    elif dtype.is_numeric() or dtype.is_boolean() or dtype.is_temporal():
        text = value.cast("string")
    else:
        raw = value.cast("string")
        text = raw.length().cast("string").concat(":", raw)
    return text.fill_null("")


def _digest(table: ir.Table) -> ir.StringValue:
    """MD5 of a row's columns (by name, ages left out): compared only with the same engine's digest of
    the other snapshot's row. One ``concat_ws`` of them all: DuckDB copies a chain of ``||`` once per link."""
    parts = [_encode(table[c]) for c in sorted(c for c in table.columns if c not in NOT_HASHED)]
    return ibis.literal(",").join(parts).hexdigest("md5")


def _data_changed(eng: Engine, old: Snapshot, new: Snapshot) -> ir.Table:
    """Every family of either snapshot with ``data``: whether it is in one snapshot only, or its row or
    one of its members' rows (a member who joined, left or changed) differs."""

    def digests(snapshot: Snapshot, name: str, key: str, side: str) -> ir.Table:
        t = eng.read_parquet(snapshot.file(name))
        cols = {f"id{side}": t[key], f"h{side}": _digest(t)}
        if key != FAMILY:
            cols[f"f{side}"] = t[FAMILY]
        return t.select(**cols)

    p_old, p_new = (digests(s, "persons.parquet", "id_dtsen", side) for s, side in ((old, "_a"), (new, "_b")))
    persons = p_new.outer_join(p_old, p_new.id_b == p_old.id_a)
    changed = persons.filter((persons.h_b != persons.h_a).fill_null(True))
    members = (
        ibis.union(changed.select(f=changed.f_b), changed.select(f=changed.f_a), distinct=True)
        .filter(ibis._.f.notnull())
        .mutate(m=ibis.literal(True))
    )
    f_old, f_new = (digests(s, "families.parquet", FAMILY, side) for s, side in ((old, "_a"), (new, "_b")))
    families = (
        f_new.outer_join(f_old, f_new.id_b == f_old.id_a)
        .select(f=ibis.coalesce(ibis._.id_b, ibis._.id_a), row=(ibis._.h_b != ibis._.h_a).fill_null(True))
        .view()  # joined again: a table of its own, not one more link of this join chain
    )
    data = families.left_join(members, "f")
    return data.select(**{FAMILY: data.f, "data": data.row | data.m.fill_null(False)}).view()


def _touched(eng: Engine, old: Snapshot, new: Snapshot) -> ir.Table | None:
    """Families touched by new event or correction provenance (and lineage) since ``old``: id, peristiwa,
    koreksi; None when ``new`` has neither provenance nor lineage."""
    parts = []
    if new.has("provenance.parquet"):
        # only event and correction rows matter (the file has ~57 M rows at 1 M persons)
        keys = ["entitas", "id", "atribut", "sumber", "batch_id"]

        def changed(snapshot: Snapshot) -> ir.Table:
            t = eng.read_parquet(snapshot.file("provenance.parquet"))
            return t.filter((t.sumber == EVENT_SOURCE) | t.sumber.startswith("koreksi_"))

        fresh = changed(new)
        if old.has("provenance.parquet"):
            fresh = fresh.anti_join(changed(old).select(keys).distinct(), keys)
        persons = eng.read_parquet(new.file("persons.parquet"))
        person_family = persons.select(id=persons.id_dtsen, f=persons[FAMILY])
        by_person = fresh.filter(fresh.entitas == "person").join(person_family, "id")
        by_family = fresh.filter(fresh.entitas == "family").mutate(f=ibis._.id)
        for part in (by_person, by_family):
            parts.append(
                part.select(
                    f=part.f.cast("string"),
                    peristiwa=part.sumber == EVENT_SOURCE,
                    koreksi=part.sumber.startswith("koreksi_"),
                )
            )
    if new.has("lineage.parquet"):
        lin_new = eng.read_parquet(new.file("lineage.parquet"))
        fresh_lin = lin_new.filter(lin_new.jenis_id == "family")
        if old.has("lineage.parquet"):
            fresh_lin = fresh_lin.anti_join(eng.read_parquet(old.file("lineage.parquet")), lin_new.columns)
        for side in ("id_lama", "id_baru"):
            parts.append(
                fresh_lin.select(
                    f=fresh_lin[side].cast("string"),
                    peristiwa=ibis.literal(True),
                    koreksi=ibis.literal(False),
                )
            )
    if not parts:
        return None
    return (
        ibis.union(*parts).group_by("f").agg(peristiwa=ibis._.peristiwa.any(), koreksi=ibis._.koreksi.any())
    )


def _base(eng: Engine, old: Snapshot, new: Snapshot) -> ir.Table:
    """The families with a cause of their own (``data``, ``peristiwa``, ``koreksi``); the others have
    none, so leaving them out changes no answer."""
    data = _data_changed(eng, old, new)
    touched = _touched(eng, old, new)
    if touched is None:
        base = data.mutate(peristiwa=ibis.literal(False), koreksi=ibis.literal(False))
    else:
        joined = data.left_join(touched, data[FAMILY] == touched.f)
        base = joined.select(
            FAMILY,
            "data",
            peristiwa=joined.peristiwa.fill_null(False),
            koreksi=joined.koreksi.fill_null(False),
        )
    return base.filter(base.data | base.peristiwa | base.koreksi)


def _causes(frame: pl.DataFrame, model_changed: bool) -> pl.DataFrame:
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


def _with_base(eng: Engine, changes: ir.Table, base: ir.Table) -> pl.DataFrame:
    """The (few) changed rows with their families' causes, in Polars."""
    causes = base.rename(_f=FAMILY)
    changes = changes.view()
    joined = changes.left_join(causes, changes[FAMILY] == causes._f)
    return pl.from_arrow(eng.to_pyarrow(joined.drop("_f")))  # type: ignore[return-value]


def diff_snapshots(old: Snapshot, new: Snapshot, engine: str | Engine | None = None) -> SnapshotDiff:
    """Entrants, exits and desil moves of families and program entrants/exits from ``old`` to ``new``
    (``engine``: an engine or its name, default the configured one)."""
    eng = engine if isinstance(engine, Engine) else get_engine(engine)
    versions = (_model_version(eng, old), _model_version(eng, new))
    model_changed = versions[0] != versions[1]
    with tempfile.TemporaryDirectory(prefix="dtsen-diff-", dir=work_dir()) as work:
        # keluarga and program both read it: computed once
        eng.write_work_parquet(_base(eng, old, new), Path(work) / "base.parquet")
        base = eng.read_parquet(Path(work) / "base.parquet")
        keluarga = _family_changes(eng, old, new, base, model_changed)
        program = _program_changes(eng, old, new, base, model_changed)
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


def _family_changes(
    eng: Engine, old: Snapshot, new: Snapshot, base: ir.Table, model_changed: bool
) -> pl.DataFrame:
    """Families that entered, left or moved national desil."""

    def families(snapshot: Snapshot, s: str) -> ir.Table:
        fam = eng.read_parquet(snapshot.file("families.parquet"))
        return fam.select(**{f"id{s}": fam[FAMILY], f"prov{s}": fam.kode_prov, f"kab{s}": fam.kode_kab})

    def desil(snapshot: Snapshot, s: str) -> ir.Table:
        scores = eng.read_parquet(snapshot.file("scores.parquet"))
        return scores.select(**{f"sid{s}": scores[FAMILY], f"desil{s}": scores.desil_nasional})

    a, b = families(old, "_a"), families(new, "_b")
    both = (
        b.outer_join(a, b.id_b == a.id_a)
        .select("id_a", "id_b", "prov_a", "prov_b", "kab_a", "kab_b", f=ibis.coalesce(b.id_b, a.id_a))
        .view()
    )
    sa, sb = desil(old, "_a"), desil(new, "_b")
    both = both.left_join(sb, both.f == sb.sid_b).left_join(sa, both.f == sa.sid_a)
    change = ibis.cases(
        (both.id_a.isnull(), "masuk"),
        (both.id_b.isnull(), "keluar"),
        (both.desil_b > both.desil_a, "desil_naik"),
        (both.desil_b < both.desil_a, "desil_turun"),
    )
    changes = both.select(
        **{FAMILY: both.f},
        perubahan=change,
        desil_lama=both.desil_a,
        desil_baru=both.desil_b,
        kode_prov=ibis.coalesce(both.prov_b, both.prov_a),
        kode_kab=ibis.coalesce(both.kab_b, both.kab_a),
    )
    keluarga = _causes(_with_base(eng, changes.filter(changes.perubahan.notnull()), base), model_changed)
    return keluarga.select(
        "id_keluarga_dtsen",
        "perubahan",
        "desil_lama",
        "desil_baru",
        "sebab",
        "sebab_utama",
        "kode_prov",
        "kode_kab",
    ).sort("id_keluarga_dtsen")


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


def _program_changes(
    eng: Engine, old: Snapshot, new: Snapshot, base: ir.Table, model_changed: bool
) -> pl.DataFrame:
    """Program entrants and exits."""
    cols = ["program", FAMILY, "layak", "alasan", "kode_prov", "kode_kab"]
    a = eng.read_parquet(old.file("eligibility.parquet")).select(cols).rename(lambda c: f"{c}_lama")
    b = eng.read_parquet(new.file("eligibility.parquet")).select(cols)
    both = b.outer_join(a, [b.program == a.program_lama, b[FAMILY] == a[f"{FAMILY}_lama"]])
    layak, layak_lama = both.layak.fill_null(False), both.layak_lama.fill_null(False)
    changes = both.select(
        program=ibis.coalesce(both.program, both.program_lama),
        **{FAMILY: ibis.coalesce(both[FAMILY], both[f"{FAMILY}_lama"])},
        perubahan=ibis.cases((layak & ~layak_lama, "masuk"), (~layak & layak_lama, "keluar")),
        alasan_lama=both.alasan_lama,
        alasan_baru=both.alasan,
        kode_prov=ibis.coalesce(both.kode_prov, both.kode_prov_lama),
        kode_kab=ibis.coalesce(both.kode_kab, both.kode_kab_lama),
    )
    joined = _with_base(eng, changes.filter(changes.perubahan.notnull()), base)
    components = [
        pl.col(c).list.eval(pl.element().filter(pl.element().str.starts_with("komponen_"))).list.sort()
        for c in ("alasan_baru", "alasan_lama")
    ]
    digests_old, digests_new = _program_digests(old), _program_digests(new)
    changed_rules = [p for p in digests_new if digests_new.get(p) != digests_old.get(p) and p in digests_old]
    joined = joined.with_columns(
        (components[0].fill_null([]) != components[1].fill_null([])).alias("_komponen"),
        pl.col("program").is_in(changed_rules).alias("aturan"),
    )
    joined = joined.with_columns((pl.col("data").fill_null(False) | pl.col("_komponen")).alias("data"))
    return (
        _causes(joined, model_changed)
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
        .sort("program", FAMILY)
    )
