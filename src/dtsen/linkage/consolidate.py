"""Consolidation: clusters -> stable IDs -> links, golden persons and families, status, provenance.

Everything that touches every record (4.6 M at 1 M persons) or every person x attribute (provenance,
~45 M rows) is an engine query streaming Parquet to Parquet; intermediate results read more than once
are materialised under ``work`` (Ibis inlines a reused expression); so is the stable-ID registry (ids.py:
one row per key ever seen); so are the status rules (status.py) and golden families (families.py: keys,
conflicts, facts, provenance). Only small frames reach Polars: counts, the lineage, the review queue's
pairs and the few field records `_household_links` re-examines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import polars as pl

from dtsen.canonical.model import entity
from dtsen.engine import Engine
from dtsen.linkage import clusters as clustering
from dtsen.linkage import families as fam
from dtsen.linkage import ids as idreg
from dtsen.linkage import review as rv
from dtsen.linkage.config import LinkConfig
from dtsen.linkage.deterministic import spine_nik_ganda
from dtsen.linkage.golden import (
    SRC_PREFIX,
    bucket_cuts,
    golden_persons,
    in_buckets,
    person_provenance,
    record_order,
)
from dtsen.linkage.inputs import ROW_SPACE, Batch, _rid, file_index
from dtsen.linkage.laps import Laps
from dtsen.linkage.status import person_status
from dtsen.logs import get_logger
from dtsen.tables import LINK_COLUMNS, LOCATION, PROVENANCE, LinkMethod

log = get_logger(__name__)

# golden person columns the status and family rules read (the rest goes straight to persons.parquet)
STATUS_INPUT = ("id_dtsen", "nik", "no_kk", "status_hidup", "tanggal_meninggal", "di_dukcapil", "kode_kec")
FAMILY_INPUT = (
    "id_dtsen",
    "status_hidup",
    "hubungan_siak",
    "hubungan",
    "tanggal_lahir",
    "no_kk",
    *LOCATION,
)
KEY_INPUT = ("nama", "nama_ibu_kandung", "jenis_kelamin")  # the mother rule of family_keys
# golden persons' window pass on DuckDB: a bucket holds at most GOLDEN_MEMORY_SHARE x memory_limit /
# GOLDEN_RECORD_BYTES records. Measured at 1 M persons (2.7 M anggota records): one pass fails at an
# 800 MB limit (it holds over 280 bytes a record), buckets of 1 M records pass at 500 MB (under 500)
GOLDEN_RECORD_BYTES = 400
GOLDEN_MEMORY_SHARE = 0.5
# registry entities whose facts override self-report, with the columns the overrides read
# (families._admin_overrides): what a record means comes from its entity, whichever agency sends it
ADMIN = {
    "pelanggan_pln": ("daya_va",),
    "kendaraan": ("jenis",),
    "bidang_tanah": ("penggunaan",),
}


@dataclass
class Consolidated:
    registry: Path  # the new ID registry, pending until the caller saves it (ids.save_registry)
    counts: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)  # per sub-step, for profiling at scale


def canonical_rows(
    eng: Engine,
    batches: list[Batch],
    entity: str,
    columns: list[str] | None = None,
    exclude_sources: frozenset[str] = frozenset(),
) -> ir.Table | None:
    """Every batch of ``entity`` as one table with ``rid`` (as the record table numbers it): columns
    missing from a source are typed nulls, types are the first batch's (Polars' vertical_relaxed).
    ``batches``: all of the run's (rids number them all); ``exclude_sources``: those left out (survey
    samples: ``LinkConfig.not_linked``)."""
    chosen = [b for b in batches if b.entity == entity and b.source not in exclude_sources]
    if not chosen:
        return None
    index = file_index(batches)
    tables = [(b, eng.read_parquet(b.canonical)) for b in chosen]
    schema: dict[str, Any] = {}
    for _, t in tables:
        for name, type_ in t.schema().items():
            schema.setdefault(name, type_)
    wanted = columns if columns is not None else [c for c in schema if c != "rid"]
    parts = []
    for b, t in tables:
        cols = {
            c: (t[c].cast(schema[c]) if c in t.columns else ibis.null(schema[c]))
            for c in wanted
            if c in schema
        }
        parts.append(t.select(rid=_rid(t, b, index), **cols))
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def _arrow(eng: Engine, expr: ir.Table) -> pl.DataFrame:
    return pl.from_arrow(eng.to_pyarrow(expr))  # type: ignore[return-value]


@dataclass(frozen=True)
class ConsolidationContext:
    """What consolidation reads and where it writes (the linkage run's state at the end of matching)."""

    eng: Engine
    records: Path  # the stacked record table (one row per source record, keyed by ``rid``)
    clusters: Path  # rid -> cluster, with how each record was linked (metode, aturan, probabilitas)
    pairs: pl.DataFrame  # scored candidate pairs with clerical decisions (the review queue's input)
    batches: list[Batch]
    cfg: LinkConfig
    state_dir: Path  # the stable-ID registry is read here (the caller saves the new one)
    out: Path  # links, persons, families, provenance, lineage and review are written here
    work: Path  # intermediate tables
    run: str  # the run's name, recorded in the ID registry and lineage


def consolidate(ctx: ConsolidationContext) -> Consolidated:
    """Write links, persons, families, provenance, lineage and review into ``ctx.out``; return the new ID
    registry (saved by the caller once the output is in place) and the run's counts."""
    clock = Laps("consolidate")
    registry = idreg.registry_table(ctx.eng, ctx.state_dir, ctx.work)
    clusters, n_household = _household_links(
        ctx.eng, ctx.records, ctx.clusters, ctx.work / "clusters_household.parquet", ctx.cfg
    )
    clock.lap("household")
    rec, cl = ctx.eng.read_parquet(ctx.records), ctx.eng.read_parquet(clusters)
    persons_ids = _person_ids(ctx, rec, cl, registry)
    clock.lap("person_ids")
    members = _links(ctx, rec, cl)
    clock.lap("links")
    golden, files, cuts = _golden(ctx, members)
    clock.lap("golden")
    people = _status(ctx, rec, members, golden)
    clock.lap("status")
    fams = _families(ctx, registry, members, people)
    clock.lap("families")
    n_persons = _persons(ctx, golden, people, fams.person_family, cuts)
    clock.lap("persons")
    _provenance(ctx, golden, files, fams.provenance_attributes)
    pl.concat([persons_ids.lineage, fams.lineage]).write_parquet(ctx.out / "lineage.parquet")
    clock.lap("provenance")
    _review(ctx)
    counts = {
        **_counts(ctx, n_persons, fams.n_families),
        "rumah_tangga_digabung": n_household,
        **fams.counts,
        "nik_ditahan": people.nik_withheld,
    }
    clock.lap("review")
    others = registry.filter(~registry.jenis_id.isin(["person", "family"]))
    parts = [*persons_ids.registry, *fams.ids.registry, others]
    pending = idreg.write_pending(ctx.eng, parts, ctx.state_dir)
    clock.lap("registry")
    return Consolidated(pending, counts, clock.seconds)


def _person_ids(
    ctx: ConsolidationContext, rec: ir.Table, cl: ir.Table, registry: ir.Table
) -> idreg.Assignment:
    """Stable person IDs (work/person_ids.parquet: cluster -> id_dtsen) for clusters with a register row
    or a family-survey record; admin-only clusters (a vehicle, a PLN customer) are nobody."""
    eng = ctx.eng
    keyed = cl.select("rid", "cluster").join(
        rec.select("rid", "spine", "entitas", "sumber", "id_rekaman"), "rid"
    )
    admin = keyed.entitas.isin(list(clustering.ADMIN_ENTITIES))
    kinds = keyed.group_by("cluster").aggregate(orang=(keyed.spine | ~admin).any())
    person = keyed.join(kinds.filter(kinds.orang).select("cluster"), "cluster")
    person_keys = person.select(
        group=person.cluster, kunci=person.sumber.concat(":", person.id_rekaman), kuat=person.spine
    )
    eng.write_work_parquet(person_keys, ctx.work / "person_keys.parquet")  # assign reads it three times
    keys = eng.read_parquet(ctx.work / "person_keys.parquet")
    persons_ids = idreg.assign(eng, keys, registry, "person", ctx.run, ctx.work)
    ids = eng.read_parquet(persons_ids.ids)
    eng.write_work_parquet(ids.select(cluster="group", id_dtsen="id"), ctx.work / "person_ids.parquet")
    return persons_ids


def _links(ctx: ConsolidationContext, rec: ir.Table, cl: ir.Table) -> ir.Table:
    """links.parquet, and the members table every later query joins (rid -> id_dtsen)."""
    eng, work = ctx.eng, ctx.work
    pid = eng.read_parquet(work / "person_ids.parquet")
    linked = rec.join(cl, "rid").left_join(pid, "cluster")
    links = linked.select("rid", *LINK_COLUMNS)
    eng.write_parquet(links.order_by("rid").drop("rid"), ctx.out / "links.parquet")
    eng.write_parquet(
        linked.filter(linked.id_dtsen.notnull()).select("rid", "id_dtsen"), work / "members.parquet"
    )
    return eng.read_parquet(work / "members.parquet")


def _golden(
    ctx: ConsolidationContext, members: ir.Table
) -> tuple[ir.Table, dict[int, tuple[str, str]], list[str]]:
    """Golden persons (work/golden.parquet): every record's place in the order of preference, then one
    window query per bucket of persons whose records fit the engine's query memory, written one after
    the other into one file in id_dtsen order; the file index provenance decodes source keys by; and
    the buckets' cuts (:func:`bucket_cuts`, none when one query fits), which persons reuses."""
    eng, work, spine = ctx.eng, ctx.work, ctx.cfg.spine_source
    anggota = canonical_rows(eng, ctx.batches, "anggota", exclude_sources=ctx.cfg.not_linked)
    if anggota is None:
        raise ValueError("no anggota batch to build golden persons from")
    files = _files(eng, anggota)
    anggota = anggota.join(members, "rid")
    eng.write_parquet(
        record_order(anggota.select("rid", "sumber", "tanggal_data"), ctx.cfg.field_sources, spine),
        work / "order.parquet",
    )
    order = eng.read_parquet(work / "order.parquet")
    cuts: list[str] = []
    memory = eng.query_memory()
    if memory is not None:
        per_bucket = max(1, int(memory * GOLDEN_MEMORY_SHARE) // GOLDEN_RECORD_BYTES)
        if int(eng.execute(order.count())) > per_bucket:
            ids = members.join(order.select("rid"), "rid").select("id_dtsen")
            cuts = eng.to_pyarrow(bucket_cuts(ids, per_bucket))["lo"].to_pylist()
        log.info("golden persons", buckets=len(cuts) + 1, records_per_bucket=per_bucket)
    parts = [golden_persons(bucket, spine) for bucket in in_buckets(anggota.join(order, "rid"), cuts)]
    eng.write_parquet_parts(parts, work / "golden.parquet")
    return eng.read_parquet(work / "golden.parquet"), files, cuts


@dataclass
class _People:
    """Per golden person, as engine tables under ``work`` (the status and family rules' inputs)."""

    base: ir.Table  # people.parquet: STATUS_INPUT + FAMILY_INPUT + KEY_INPUT + umur
    evidence: ir.Table  # evidence.parquet: see _evidence
    status: ir.Table  # status.parquet: id_dtsen, nik, nik_dilaporkan, status_padan, bukti_status
    nik_withheld: int


def _status(ctx: ConsolidationContext, rec: ir.Table, members: ir.Table, golden: ir.Table) -> _People:
    """Status evidence per person (latest field record, NIK quality, sources, BPJS segment), the golden
    base with ages, then the status rules (status.py): engine queries written under ``work``; only the
    count of withheld NIKs reaches the driver."""
    eng, cfg, work = ctx.eng, ctx.cfg, ctx.work
    eng.write_parquet(_evidence(eng, rec, members, ctx.batches, cfg), work / "evidence.parquet")
    ref = cfg.reference_date or eng.execute(rec.filter(rec.spine).tanggal_data.max())
    ref = ref.date() if hasattr(ref, "date") else ref  # the engine may return a timestamp
    base = golden.select(*dict.fromkeys(STATUS_INPUT + FAMILY_INPUT + KEY_INPUT))
    eng.write_parquet(base.mutate(umur=_age(base, ref)), work / "people.parquet")
    people, evidence = eng.read_parquet(work / "people.parquet"), eng.read_parquet(work / "evidence.parquet")
    status = person_status(people.select(*STATUS_INPUT), evidence, spine_nik_ganda(rec), cfg.spine_source)
    eng.write_parquet(
        status.select("id_dtsen", "nik", "nik_dilaporkan", "status_padan", "bukti_status"),
        work / "status.parquet",
    )
    status = eng.read_parquet(work / "status.parquet")
    nik_withheld = int(eng.execute(status.nik_dilaporkan.notnull().sum()))
    return _People(people, evidence, status, nik_withheld)


def _age(t: ir.Table, ref: Any) -> ir.IntegerValue:
    """Age in whole years at death, else at ``ref`` (a date); null without a birth date."""
    until = ibis.coalesce(t.tanggal_meninggal, ibis.literal(ref, "date"))
    lahir = t.tanggal_lahir
    before_birthday = (until.month() * 100 + until.day()) < (lahir.month() * 100 + lahir.day())
    return ((until.year() - lahir.year()) - before_birthday.cast("int32")).cast("int16")


@dataclass
class _Families:
    n_families: int  # published (families.parquet)
    ids: idreg.Assignment
    person_family: ir.Table  # work/person_family.parquet: id_dtsen -> id_keluarga_dtsen
    lineage: pl.DataFrame  # the registry's, plus families retired because all members died
    provenance_attributes: list[str]  # work/family_provenance.parquet holds the compact form
    counts: dict[str, int]


def _families(ctx: ConsolidationContext, registry: ir.Table, members: ir.Table, people: _People) -> _Families:
    """Family keys -> stable IDs -> golden families, engine queries from the person and source tables
    to families.parquet; only the dead families' IDs and counts reach the driver."""
    eng, batches, cfg, work = ctx.eng, ctx.batches, ctx.cfg, ctx.work
    ev = people.evidence
    latest_family = ev.filter(ev.ada_lapangan).select("id_dtsen", "id_keluarga")
    eng.write_work_parquet(_field_members(eng, batches, members, cfg), work / "field_members.parquet")
    field_members = eng.read_parquet(work / "field_members.parquet")
    base = people.base
    key_input = ("id_dtsen", "no_kk", "di_dukcapil", "status_hidup", "tanggal_lahir", "kode_desa", "umur")
    keys = fam.family_keys(base.select(*key_input, *KEY_INPUT), latest_family, field_members)
    eng.write_work_parquet(keys, work / "family_person_keys.parquet")
    keys = eng.read_parquet(work / "family_person_keys.parquet")
    fam_groups, person_group = fam.id_groups(keys)
    eng.write_work_parquet(person_group, work / "family_groups.parquet")
    person_group = eng.read_parquet(work / "family_groups.parquet")
    eng.write_work_parquet(fam_groups, work / "family_keys.parquet")
    fam_ids = idreg.assign(
        eng, eng.read_parquet(work / "family_keys.parquet"), registry, "family", ctx.run, work
    )
    ids = eng.read_parquet(fam_ids.ids)
    person_family = person_group.join(ids, "group").select("id_dtsen", id_keluarga_dtsen="id")
    eng.write_parquet(person_family, work / "person_family.parquet")
    person_family = eng.read_parquet(work / "person_family.parquet")
    family_input = (
        base.select(*FAMILY_INPUT, "umur")
        .left_join(person_family, "id_dtsen")
        .drop("id_dtsen_right")
        .left_join(keys.select("id_dtsen", "dasar"), "id_dtsen")
        .drop("id_dtsen_right")
    )
    families, fam_prov = fam.golden_families(
        eng,
        work,
        family_input,
        field_members,
        _keluarga(eng, batches, cfg.not_linked),
        _admin(eng, batches, members, cfg.not_linked),
        cfg.survivorship,
        cfg.field_sources,
    )
    eng.write_work_parquet(families, work / "families_all.parquet")
    families = eng.read_parquet(work / "families_all.parquet")
    # a family whose members have all died is retired (lineage pensiun), not published: nobody to rank
    # or pay; its keys stay in the registry, so a death recorded in error gives the family its ID back
    dead_ids = eng.to_pyarrow(families.filter(families.jumlah_anggota == 0).select("id_keluarga_dtsen"))
    dead = eng.memtable(dead_ids)
    families = families.anti_join(dead, "id_keluarga_dtsen")
    compact = fam_prov.compact.anti_join(dead, "id_keluarga_dtsen")
    lineage = pl.concat(
        [fam_ids.lineage, idreg.retired(pl.Series(dead_ids["id_keluarga_dtsen"]), "family", ctx.run)]
    )
    k = keys.join(person_family, "id_dtsen")
    attached = _arrow(eng, k.group_by("dasar").aggregate(n=k.count()))
    by_basis = dict(attached.iter_rows())
    n_fragment = families.konflik.contains(fam.FRAGMENT).fill_null(False).cast("int64").sum()
    counts = {
        "fragmen_dilekatkan_rumah_tangga": int(by_basis.get("rumah_tangga_sumber", 0)),
        "fragmen_dilekatkan_ibu": int(by_basis.get("ibu", 0)),
        "fragmen_tanpa_dewasa": int(eng.execute(n_fragment) or 0),
        "keluarga_semua_meninggal": dead_ids.num_rows,
    }
    n_families = eng.write_parquet(families.order_by("id_keluarga_dtsen"), ctx.out / "families.parquet")
    eng.write_parquet(compact.order_by("id_keluarga_dtsen"), work / "family_provenance.parquet")
    return _Families(n_families, fam_ids, person_family, lineage, fam_prov.attributes, counts)


def _persons(
    ctx: ConsolidationContext, golden: ir.Table, people: _People, person_family: ir.Table, cuts: list[str]
) -> int:
    """persons.parquet: golden attributes + status, sources, BPJS segment, age, family; returns its rows.
    Joined and sorted per bucket of golden's (``cuts``): one sort of every column of every person runs
    out of DuckDB's memory_limit where golden's buckets fit (1 M persons at 800 MB)."""
    base, ev = people.base, people.evidence
    extra = base.select("id_dtsen", "umur")
    for t in (person_family, people.status, ev.select("id_dtsen", "sumber_data", "segmen_bpjs")):
        extra = extra.left_join(t, "id_dtsen").drop("id_dtsen_right")
    attrs = [c for c in golden.columns if not c.startswith(SRC_PREFIX)]
    persons = golden.select(*[a for a in attrs if a != "nik"]).join(extra, "id_dtsen")  # nik: status.py's
    tail = ["status_padan", "bukti_status", "nik_dilaporkan", "sumber_data", "segmen_bpjs", "umur"]
    order = ["id_dtsen", "id_keluarga_dtsen", *[c for c in attrs if c != "id_dtsen"], *tail]
    out = ctx.out / "persons.parquet"
    parts = [p.order_by("id_dtsen") for p in in_buckets(persons.select(*order), cuts)]
    return int(ctx.eng.write_parquet_parts(parts, out))


def _provenance(
    ctx: ConsolidationContext,
    golden: ir.Table,
    files: dict[int, tuple[str, str]],
    family_attributes: list[str],
) -> None:
    """provenance.parquet: person attributes (golden unpivoted, in golden's id order: ~44 M rows at 1 M
    persons, deterministic without a sort), then family attributes (expanded, sorted by id, atribut)."""
    eng = ctx.eng
    person_rows = person_provenance(golden, files)
    family_rows = fam.family_provenance(
        eng.read_parquet(ctx.work / "family_provenance.parquet"), family_attributes
    )
    eng.write_parquet_parts(
        [person_rows, family_rows.select(*PROVENANCE.columns).cast(person_rows.schema())],
        ctx.out / "provenance.parquet",
    )


def _review(ctx: ConsolidationContext) -> None:
    """review.parquet: grey-band pairs with both records side by side."""
    p, pairs = ctx.cfg.probabilistic, ctx.pairs
    pair_rids = pl.concat([pairs.select(rid="rid_l"), pairs.select(rid="rid_r")]).unique()
    sides = (
        pl.scan_parquet(ctx.records)
        .select("rid", *rv.SIDE_FIELDS)
        .join(pair_rids.lazy(), on="rid", how="semi")
        .collect()
    )
    rv.queue(pairs, sides, p.review_threshold, p.match_threshold).write_parquet(ctx.out / "review.parquet")


def _counts(ctx: ConsolidationContext, n_persons: int, n_families: int) -> dict[str, int]:
    """The run's counts of records, persons, families and links by method."""
    eng, p, pairs = ctx.eng, ctx.cfg.probabilistic, ctx.pairs
    lk = eng.read_parquet(ctx.out / "links.parquet")
    method = _arrow(eng, lk.group_by("metode").aggregate(n=lk.count()))
    return {
        "records": int(eng.execute(lk.count())),
        "persons": n_persons,
        "families": n_families,
        "unlinked": int(eng.execute(lk.id_dtsen.isnull().sum())),
        **{f"metode_{m}": int(n) for m, n in method.sort("metode").iter_rows()},
        **rv.queue_size(pairs, p.review_threshold, p.match_threshold),  # pairs and records waiting
    }


RULE_HOUSEHOLD = "rumah_tangga+nama+tanggal_lahir"


def _household_links(
    eng: Engine, records: Path, clusters: Path, out: Path, cfg: LinkConfig
) -> tuple[Path, int]:
    """Field records of a person with no register row, joined to the register person their own field
    household names: the clusters table updated (written to ``out``; ``clusters`` itself when nobody
    moves), and how many clusters moved.

    Why: the one-child "families" of the demo were, every one, a field record (no NIK, or a stale card)
    that linkage left outside the register although the same household's other members linked to one
    KK and that KK lists the same person (same name and birth date). Keyed by their own card they were
    a family of one; attached to the household's family they would be counted twice. The household is
    the blocking evidence here as the NIK is in the deterministic stage, so the same corroboration
    applies (name and birth date, :func:`deterministic.corroborated`) plus the same sex; a record that
    matches two register persons of the KK (twins) is left alone.

    ``records`` and ``clusters`` (Parquet) are read by engine queries, so neither national table sits in
    memory: only the few loose records, their households' KKs and those KKs' register rows are collected,
    the name rule runs on that small frame in DuckDB, and the update of every record is a query again."""
    from dtsen.engine import local_engine
    from dtsen.linkage.deterministic import corroborated

    rec, cl = eng.read_parquet(records), eng.read_parquet(clusters)
    spine = rec.filter(rec.spine).select(_s="rid")
    members = cl.select("rid", "cluster")
    registered = members.semi_join(spine, members.cluster == spine._s)  # members with a register row
    loose = members.anti_join(spine, members.cluster == spine._s)
    fields = ["rid", "id_keluarga", "nama", "nama_depan", "nama_urut", "tanggal_lahir", "jenis_kelamin"]
    field = rec.filter(rec.sumber.isin(list(cfg.field_sources)) & rec.id_keluarga.notnull())
    mine_path = out.with_name(f"{out.stem}_loose.parquet")  # read twice: collected, and for households
    eng.write_parquet(field.select(*fields).join(loose, "rid"), mine_path)
    mine = pl.read_parquet(mine_path)
    if mine.is_empty():
        return clusters, 0
    households = eng.read_parquet(mine_path).select("id_keluarga").distinct()
    co = field.select("rid", "id_keluarga").semi_join(households, "id_keluarga").join(registered, "rid")
    kk_of = rec.select(_c="rid", kk="no_kk")
    seen = co.join(kk_of, co.cluster == kk_of._c)
    seen = seen.filter(seen.kk.notnull()).select("id_keluarga", "kk").distinct()
    seen_kk = _arrow(eng, seen)
    spine_rows = rec.filter(rec.spine)
    register = spine_rows.semi_join(seen, spine_rows.no_kk == seen.kk).select(
        s_rid="rid",
        kk="no_kk",
        s_nama="nama",
        s_nama_depan="nama_depan",
        s_nama_urut="nama_urut",
        s_tanggal_lahir="tanggal_lahir",
        s_jenis_kelamin="jenis_kelamin",
    )
    pairs = mine.join(seen_kk, on="id_keluarga").join(_arrow(eng, register), on="kk")
    if pairs.is_empty():
        return clusters, 0
    local = local_engine()  # a small frame: the deterministic stage's name rule, on the driver
    j = ibis.memtable(pairs.to_arrow())
    same_sex = (j.jenis_kelamin == j.s_jenis_kelamin).fill_null(False)
    j = j.filter(same_sex & corroborated(local, j, cfg.deterministic))
    hits = _arrow(local, j.select("cluster", "s_rid").distinct())
    moved = (
        hits.group_by("cluster")
        .agg(pl.col("s_rid").unique())
        .filter(pl.col("s_rid").list.len() == 1)
        .select(_from=pl.col("cluster").cast(pl.Int64), _to=pl.col("s_rid").list.first().cast(pl.Int64))
    )
    if moved.is_empty():
        return clusters, 0
    # every record: a moved cluster takes its register row; the register row it joined, no longer
    # alone, is deterministic (a register row's cluster is itself, so the cluster it had is the test)
    m = eng.memtable(moved.to_arrow())
    targets = eng.memtable(moved.select(_target=pl.col("_to").unique()).to_arrow())
    j = cl.left_join(m, cl.cluster == m._from).left_join(targets, cl.cluster == targets._target)
    hit = j._to.notnull()
    joined = j._target.notnull() & (j.metode == LinkMethod.TUNGGAL.value)
    updated = j.select(
        "rid",
        cluster=ibis.coalesce(j._to, j.cluster),
        metode=ibis.ifelse(hit | joined, LinkMethod.DETERMINISTIK.value, j.metode),
        aturan=ibis.ifelse(hit, RULE_HOUSEHOLD, j.aturan),
        probabilitas=ibis.ifelse(hit, ibis.null("float64"), j.probabilitas),
    )
    eng.write_parquet(updated, out)
    return out, moved.height


def _files(eng: Engine, anggota: ir.Table) -> dict[int, tuple[str, str]]:
    """File index -> (sumber, batch_id) of the anggota records (provenance decodes source keys by it)."""
    t = anggota.select(file=anggota.rid // ROW_SPACE, sumber=anggota.sumber, batch_id=anggota.batch_id)
    rows = _arrow(eng, t.distinct())
    if rows["file"].is_duplicated().any():
        raise ValueError("an anggota file holds records of several sources or batches")
    return {int(f): (s, b) for f, s, b in rows.iter_rows()}


def _top(t: ir.Table, order_by: list[Any]) -> ir.Table:
    """The first row per id_dtsen under ``order_by`` (ties broken by rid: deterministic)."""
    pos = ibis.row_number().over(group_by=t.id_dtsen, order_by=[*order_by, t.rid])
    ranked = t.mutate(_pos=pos)
    return ranked.filter(ranked._pos == 0).drop("_pos")


def _evidence(
    eng: Engine, rec: ir.Table, members: ir.Table, batches: list[Batch], cfg: LinkConfig
) -> ir.Table:
    """Per person: the sources naming them (sumber_data), the latest field record (sumber, keberadaan,
    kecamatan, family), NIK quality over the non-register records and the BPJS segment: one query."""
    r = rec.join(members, "rid")
    f = r.filter(r.sumber.isin(cfg.field_sources))
    keberadaan = canonical_rows(eng, batches, "anggota", ["keberadaan"], cfg.not_linked)
    if keberadaan is not None:
        f = f.left_join(keberadaan, "rid").drop("rid_right")
    else:
        f = f.mutate(keberadaan=ibis.null("int8"))
    latest = _top(f, [ibis.desc(f.tanggal_data)]).select(
        _id="id_dtsen",
        sumber_lapangan=f.sumber,
        keberadaan_lapangan=f.keberadaan,
        kec_lapangan=f.kode_kec,
        id_keluarga=f.id_keluarga,
        ada_lapangan=ibis.literal(True),
    )
    ns = r.filter(~r.spine)
    nik = ns.group_by(_id=ns.id_dtsen).aggregate(
        nik_ada=ns.nik.notnull().any(),
        nik_tidak_valid=ns.nik_tidak_valid.any(),
        sumber_nik=ns.sumber.collect(distinct=True).sort().join("+"),
    )
    sources = r.group_by("id_dtsen").aggregate(sumber_data=r.sumber.collect(distinct=True).sort())
    out = sources
    for t in (latest, nik):
        out = out.left_join(t, out.id_dtsen == t._id).drop("_id")
    bpjs = canonical_rows(
        eng, batches, "kepesertaan_bpjs", ["segmen", "status_aktif", "tanggal_data"], cfg.not_linked
    )
    if bpjs is None:
        return out.mutate(segmen_bpjs=ibis.null("int8"))
    b = bpjs.join(members, "rid")
    top = _top(b, [ibis.desc(b.status_aktif), ibis.desc(b.tanggal_data)])
    segmen = top.select(_id=top.id_dtsen, segmen_bpjs=top.segmen)
    return out.left_join(segmen, out.id_dtsen == segmen._id).drop("_id")


def _field_members(eng: Engine, batches: list[Batch], members: ir.Table, cfg: LinkConfig) -> ir.Table:
    """id_dtsen, sumber, id_keluarga, tanggal_data of every linked field anggota record."""
    t = canonical_rows(eng, batches, "anggota", ["sumber", "id_keluarga", "tanggal_data"], cfg.not_linked)
    if t is None:
        schema = {"id_dtsen": "string", "sumber": "string", "id_keluarga": "string", "tanggal_data": "date"}
        return eng.memtable(ibis.schema(schema).to_pyarrow().empty_table())
    t = t.filter(t.sumber.isin(cfg.field_sources)).join(members, "rid")
    return t.select("id_dtsen", "sumber", "id_keluarga", "tanggal_data")


def _keluarga(eng: Engine, batches: list[Batch], not_linked: frozenset[str]) -> ir.Table:
    """The canonical keluarga rows of the linked sources (none: an empty table of the entity's columns)."""
    t = canonical_rows(eng, batches, "keluarga", exclude_sources=not_linked)
    return t if t is not None else eng.memtable(entity("keluarga").arrow_schema().empty_table())


def _admin(
    eng: Engine, batches: list[Batch], members: ir.Table, not_linked: frozenset[str]
) -> dict[str, ir.Table]:
    """Per registry entity of :data:`ADMIN`, its linked rows (rid, id_dtsen, sumber, batch_id,
    tanggal_data and the columns the overrides read), from every source that sends that entity."""
    out = {}
    for name, cols in ADMIN.items():
        t = canonical_rows(eng, batches, name, ["sumber", "batch_id", "tanggal_data", *cols], not_linked)
        if t is not None:
            out[name] = t.join(members, "rid")
    return out
