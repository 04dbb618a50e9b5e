"""Read canonical batches and stack every record that names a person into one table of link fields.

Each entity names its person with different columns (``nik``/``nama`` in anggota and BPJS, ``nik_pemilik``
/ ``nama_pelanggan`` in PLN, ...); this module maps them to one set of link fields so the deterministic and
probabilistic stages see one table. Regsosek members carry no region or KK: they take their family row's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.types as ir

from dtsen.config import get_settings
from dtsen.engine import Engine
from dtsen.linkage.config import LinkConfig
from dtsen.sources.addresses import rt_rw, street
from dtsen.sources.names import TITLE_PREFIXES
from dtsen.tables import BatchStatus

# entity -> (record key, NIK column, name column): every canonical table that names a person
PERSON_ENTITIES: dict[str, tuple[str, str, str]] = {
    "anggota": ("id_anggota", "nik", "nama"),
    "kepesertaan_bpjs": ("nomor_kartu", "nik", "nama"),
    "pelanggan_pln": ("id_pelanggan", "nik_pemilik", "nama_pelanggan"),
    "kendaraan": ("nomor_registrasi", "nik_pemilik", "nama_pemilik"),
    "bidang_tanah": ("nib", "nik_pemegang", "nama_pemegang"),
}
ROW_SPACE = 10_000_000_000  # rid = file index * ROW_SPACE + line number
# titles some sources leave in front of a name without the dot ingestion looks for ("H SAIFUL")
_LEADING_TITLES = rf"^(?:(?:{'|'.join(TITLE_PREFIXES)})\s+)+"

# the stacked record table (records.parquet): provenance, then the link fields
RECORD_COLUMNS = (
    "rid",
    "sumber",
    "entitas",
    "id_rekaman",
    "batch_id",
    "berkas",
    "baris",
    "tanggal_data",
    "spine",
    "nik",
    "nik_tidak_valid",
    "no_kk",
    "nama",
    "nama_depan",
    "nama_urut",
    "tanggal_lahir",
    "tgl_lahir",
    "tahun_lahir",  # birth year: of the date, else tanggal_data's year minus umur
    "jenis_kelamin",
    "kode_desa",
    "kode_kec",
    "kode_kab",
    "kode_prov",
    "nik_wilayah",
    "nik_tanggal",
    "id_keluarga",
    "status_hidup",
    "alamat",
    "rt_rw",  # "<rt>/<rw>": the register's columns, else read from a free-text address
)


class LinkInputError(ValueError):
    """The batches given cannot be linked; the message names the batch and why."""


@dataclass(frozen=True)
class Batch:
    batch_id: str
    directory: Path
    source: str
    entity: str
    mapping: str
    created_at: str
    files: tuple[str, ...]

    @property
    def canonical(self) -> Path:
        return self.directory / "canonical" / f"{self.entity}.parquet"


def read_batch(directory: Path) -> Batch:
    manifest = directory / "manifest.json"
    try:
        m = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LinkInputError(f"{manifest}: not a readable batch manifest ({exc})") from exc
    if m.get("status") != BatchStatus.COMMITTED:
        raise LinkInputError(f"{directory}: batch status is {m.get('status')!r}, not committed")
    batch = Batch(
        batch_id=m["batch_id"],
        directory=directory,
        source=m["source"],
        entity=m["entity"],
        mapping=m["mapping"],
        created_at=m["created_at"],
        files=tuple(f["name"] for f in m.get("files", [])),
    )
    if not batch.canonical.is_file():
        raise LinkInputError(f"{directory}: canonical table {batch.canonical.name} is missing")
    return batch


def latest_batches(data_dir: Path | None = None) -> list[Batch]:
    """The newest committed batch of every mapping under data_dir/batches (what a quarterly run links)."""
    root = (data_dir or get_settings().data_dir) / "batches"
    if not root.is_dir():
        raise LinkInputError(f"{root}: no batches to link (run dtsen ingest first)")
    latest: dict[str, Batch] = {}
    for d in sorted(root.iterdir()):
        if d.is_dir() and not d.name.startswith(".") and (d / "manifest.json").exists():
            b = read_batch(d)
            if b.mapping not in latest or b.created_at > latest[b.mapping].created_at:
                latest[b.mapping] = b
    return sorted(latest.values(), key=lambda b: b.batch_id)


def file_index(batches: list[Batch]) -> dict[tuple[str, str | None], int]:
    """A number per (batch, file) so ``rid`` is unique, stable for the same batches, and engine-independent.

    Numbered by mapping first: batch IDs begin with their landing time, and the order in which sources
    happened to land (side by side, in a cycle) must not change a single tie-break of the linkage."""
    out: dict[tuple[str, str | None], int] = {}
    for b in sorted(batches, key=lambda b: (b.mapping, b.batch_id)):
        for name in (None, *sorted(b.files)):
            out[(b.batch_id, name)] = len(out) + 1
    return out


def _rid(t: ir.Table, batch: Batch, index: dict[tuple[str, str | None], int]) -> ir.IntegerValue:
    cases = [(t.berkas == name, index[(batch.batch_id, name)]) for name in batch.files]
    default = index[(batch.batch_id, None)]
    number = ibis.cases(*cases, else_=default) if cases else ibis.literal(default)
    return number.cast("int64") * ROW_SPACE + t.baris.fill_null(0).cast("int64")


def _null(type_: str) -> ir.Value:
    return ibis.null(type_)


def person_records(
    eng: Engine,
    batch: Batch,
    index: dict[tuple[str, str | None], int],
    families: ir.Table | None,
    spine_source: str,
    extra_columns: tuple[str, ...] = (),
) -> ir.Table:
    """One batch's person-naming rows as link fields, then the spec's ``extra_columns`` as text (null
    where the batch lacks one: a column one source has and another lacks must not break the union)."""
    key, nik_col, name_col = PERSON_ENTITIES[batch.entity]
    t = eng.read_parquet(batch.canonical)
    cols = set(t.columns)

    def col(name: str, type_: str) -> ir.Value:
        return t[name] if name in cols else _null(type_)

    region = {c: col(c, "string") for c in ("kode_desa", "kode_kec", "kode_kab", "kode_prov")}
    no_kk = col("no_kk", "string")
    if families is not None and "id_keluarga" in cols:  # Regsosek members: region and KK from the family row
        f = families.select(
            _fk=families.id_keluarga,
            _kk=families.no_kk,
            _alamat=families.alamat,
            _rt=families.rt,
            _rw=families.rw,
            **{f"_{c}": families[c] for c in region},
        )
        t = t.left_join(f, t.id_keluarga == f._fk)
        region = {c: ibis.coalesce(t[c], t[f"_{c}"]) for c in region}
        no_kk = ibis.coalesce(t.no_kk, t._kk)
        alamat = ibis.coalesce(col("alamat", "string"), t._alamat)
        rt, rw = ibis.coalesce(col("rt", "string"), t._rt), ibis.coalesce(col("rw", "string"), t._rw)
    else:
        alamat = col("alamat", "string")
        rt, rw = col("rt", "string"), col("rw", "string")
    nik = t[nik_col]
    nama = t[name_col].re_replace(_LEADING_TITLES, "").nullif("")
    lahir = col("tanggal_lahir", "date")
    flags = t.flags
    return t.select(
        rid=_rid(t, batch, index),
        sumber=t.sumber,
        entitas=ibis.literal(batch.entity),
        id_rekaman=t[key],
        batch_id=t.batch_id,
        berkas=t.berkas,
        baris=t.baris,
        tanggal_data=t.tanggal_data,
        spine=t.sumber == spine_source,
        nik=nik,
        nik_tidak_valid=nik.isnull()
        & (flags.filter(lambda f: f.startswith("nik_") & (f != "nik_missing")).length() > 0).fill_null(False),
        no_kk=no_kk,
        nama=nama,
        nama_depan=nama.split(" ")[0],
        nama_urut=nama.split(" ").sort().join(" "),
        tanggal_lahir=lahir,
        tgl_lahir=lahir.cast("string"),
        tahun_lahir=ibis.coalesce(lahir.year(), t.tanggal_data.year() - col("umur", "int16")).cast("int32"),
        jenis_kelamin=col("jenis_kelamin", "int8"),
        **region,
        nik_wilayah=nik.substr(0, 6),
        nik_tanggal=nik.substr(6, 6),
        id_keluarga=col("id_keluarga", "string"),
        status_hidup=col("status_hidup", "boolean"),
        alamat=street(alamat),  # the street part, one spelling (sources/addresses.py)
        rt_rw=rt_rw(alamat, rt.cast("string"), rw.cast("string")),
        **{c: t[c].cast("string") if c in cols else _null("string") for c in extra_columns},
    )


def declared(batches: list[Batch], cfg: LinkConfig) -> list[Batch]:
    """The batches whose records linkage uses: every source must be declared in ``cfg.sources`` (an
    undeclared one is refused, naming the batch), and survey samples are left out (anonymous: never
    linked to persons nor to the registry's families)."""
    for b in batches:
        try:
            cfg.kind_of(b.source, f"batch {b.batch_id} ({b.directory}, mapping {b.mapping})")
        except ValueError as exc:
            raise LinkInputError(str(exc)) from exc
    return [b for b in batches if b.source not in cfg.not_linked]


def stack(eng: Engine, batches: list[Batch], cfg: LinkConfig) -> ir.Table:
    """Every person-naming record of ``batches`` in one table (RECORD_COLUMNS, then the Splink spec's
    ``extra_columns``); ``batches`` all of the run's (rids number them all), survey samples left out."""
    spine_source, extra_columns = cfg.spine_source, tuple(cfg.probabilistic.splink.extra_columns)
    used = declared(batches, cfg)
    linked = [b for b in used if b.entity in PERSON_ENTITIES]
    if not any(b.source == spine_source for b in linked):
        raise LinkInputError(
            f"no {spine_source} batch among the {len(batches)} given: the population register is the spine"
        )
    index = file_index(batches)
    family_tables = [eng.read_parquet(b.canonical) for b in used if b.entity == "keluarga"]
    families = None
    if family_tables:
        families = ibis.union(
            *[
                f.select(
                    "id_keluarga",
                    "no_kk",
                    "kode_desa",
                    "kode_kec",
                    "kode_kab",
                    "kode_prov",
                    "alamat",
                    rt=f.rt.cast("string") if "rt" in f.columns else ibis.null("string"),
                    rw=f.rw.cast("string") if "rw" in f.columns else ibis.null("string"),
                )
                for f in family_tables
            ]
        )
    parts = [person_records(eng, b, index, families, spine_source, extra_columns) for b in linked]
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


# link fields whose absence changes what linkage can do (reported per source, never assumed present)
REPORTED_FIELDS = (
    "nik",
    "no_kk",
    "nama",
    "tanggal_lahir",
    "jenis_kelamin",
    "kode_desa",
    "kode_kec",
    "alamat",
)


def missing_inputs(batches: list[Batch], records: Path) -> list[str]:
    """What the linked inputs lack, one sentence each: no family batch, and per source the link fields
    null in every one of its records (a source without region codes, birth dates or KK numbers)."""
    import polars as pl

    notes = []
    if not any(b.entity == "keluarga" for b in batches):
        notes.append(
            "no keluarga batch: families are formed from KK numbers and anggota rows, housing facts null"
        )
    empty = (
        pl.scan_parquet(records)
        .group_by("sumber")
        .agg(pl.col(c).is_not_null().sum() for c in REPORTED_FIELDS)
        .sort("sumber")
        .collect()
    )
    for row in empty.iter_rows(named=True):
        absent = [c for c in REPORTED_FIELDS if row[c] == 0]
        if absent:
            notes.append(f"{row['sumber']}: no {', '.join(absent)} in any record; not compared or blocked on")
    return notes
