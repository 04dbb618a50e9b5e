"""Golden families: one per current Kartu Keluarga, reconciled with Regsosek units and DTKS/P3KE households.

A person belongs to exactly one current family: the KK the register lists them on (for people not in
the register: the KK, else the family, of their latest field record). The head is the living member the
register calls kepala keluarga. Housing, asset and program facts come from the field family row that
saw most of the members, most recent first; then registries replace self-report for assets (PLN power,
vehicles, land). Where sources disagree on who lives together, the family gets a conflict code rather
than a silent choice: ``unit_<sumber>_terpecah`` (one source family spread over several KKs, e.g. a
keluarga pecahan since 2022), ``banyak_unit_<sumber>`` (one KK seen as several source families),
``tanpa_kepala`` / ``kepala_ganda``.

The rules are Ibis expressions over engine tables (DuckDB or Spark from one definition): at 10 M persons
the per-person frames they read (people, every field anggota record, every keluarga row, the registries'
rows) took 6 GB of driver memory in Polars.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from dtsen.canonical.model import entity
from dtsen.engine import Engine
from dtsen.linkage.config import Survivorship
from dtsen.linkage.ids import FAMILY_KEY_PREFIX
from dtsen.reference.codes import DayaListrik
from dtsen.tables import FAMILY_PROVENANCE, LOCATION

ADMIN_ATTRIBUTES = ("daya_listrik", "aset_mobil", "aset_sepeda_motor", "lahan_lain")
SOURCE_COLUMNS = ("sumber", "batch_id", "tanggal_data")


@dataclass
class FamilyProvenance:
    """Where family attributes came from, one row per family (unsorted: the writer sorts it by id): the
    chosen field family row (sumber, batch_id, tanggal_data; ``_ada_dasar``) for every attribute in
    ``attributes``, and per registry attribute ``a`` its source (``_<a>_sumber`` ...) and whether it
    wins (``_<a>_pakai``: the more recent of the two, the field row on a tie, an undated one last).
    :func:`family_provenance` expands it in the engine: at 1 M persons the long form has ~14 M rows,
    and building it in Polars was the linkage's memory peak (~4 GB)."""

    compact: ir.Table
    attributes: list[str]


def fact_attributes() -> list[str]:
    """Family attributes that come from a field family row (housing, assets, programs)."""
    return [
        f.name
        for g, fs in entity("keluarga").groups()
        if g not in ("Identity", "Location", "Provenance")
        for f in fs
    ]


ADULT_AGE = 15  # a family needs a living member this old to have a head who can act for it
MOTHER_AGE_GAP = (12, 55)  # years between a mother's birth and her child's, for the nama_ibu_kandung rule
FRAGMENT = "fragmen_tanpa_dewasa"  # living members, none adult, no household found: clerical review
ATTACHED = "anggota_dilekatkan"  # a member not on the KK, attached by field household or mother: ground check
ATTACHING = ("rumah_tangga_sumber", "ibu")
KEY_BASIS = ("kk", "rumah_tangga_sumber", "ibu", "kk_sumber", "keluarga_sumber", "sendiri")


def _top(t: ir.Table, key: str, order_by: list[Any]) -> ir.Table:
    """The first row per ``key`` under ``order_by`` (which must order every group's rows fully)."""
    pos = ibis.row_number().over(group_by=t[key], order_by=order_by)
    ranked = t.mutate(_pos=pos)
    return ranked.filter(ranked._pos == 0).drop("_pos")


def _left(t: ir.Table, other: ir.Table, key: str) -> ir.Table:
    """``t`` left-joined with ``other`` on the column ``key`` both have (kept once)."""
    return t.left_join(other, key).drop(f"{key}_right")


def _text(prefix: str, col: ir.StringValue) -> ir.StringValue:
    return ibis.literal(prefix).concat(col)


def family_keys(
    persons: ir.Table, latest_family: ir.Table, field_members: ir.Table | None = None
) -> ir.Table:
    """id_dtsen -> kunci_keluarga (``kk:<no_kk>``, ``fam:<source family>`` or ``p:<id_dtsen>``) and
    ``dasar`` (the evidence, one of :data:`KEY_BASIS`).

    A person on a KK the register holds keys by it (``kk``). A person the register does not know (or
    whose KK it does not hold: a mistyped or pre-split card from a field source) used to key by their
    own card or field family, which nobody else shared, so a DTKS-only child became a one-person
    "family" beside their parents. Now, in order: the register KK most of their co-members in the same
    field household carry, latest household first (``rumah_tangga_sumber``: the field record lists who
    lives together, guardians included); their mother (``nama_ibu_kandung`` equal to the name of a
    living woman of the same desa born 12-55 years earlier, one family only: ``ibu``) when the key
    found so far holds no adult; else their own card (``kk_sumber``), field family (``keluarga_sumber``)
    or themselves (``sendiri``). ``persons``: id_dtsen, no_kk, and for the rules beyond ``kk``
    di_dukcapil, nama, nama_ibu_kandung, jenis_kelamin, tanggal_lahir, kode_desa, status_hidup, umur.
    ``latest_family``: id_dtsen, id_keluarga of the latest field record. ``field_members``: id_dtsen,
    id_keluarga, tanggal_data of every field anggota record.

    Field records that merely duplicate a register person of their household were merged into that
    person before this (``consolidate._household_links``); what reaches these rules is a person the
    register does not list, so attaching them adds a member and the family is flagged
    (``anggota_dilekatkan``) for the ground check.
    """
    p = _left(persons, latest_family.select("id_dtsen", "id_keluarga"), "id_dtsen")
    if "di_dukcapil" not in p.columns:  # no register evidence given: every card counts as the register's
        p = p.mutate(di_dukcapil=p.no_kk.notnull())
    register_kk = p.filter(p.di_dukcapil & p.no_kk.notnull()).select("no_kk").distinct()
    p = _left(p, register_kk.mutate(_rkk=ibis.literal(True)), "no_kk")
    p = p.mutate(_known=p._rkk.notnull()).drop("_rkk")
    own_key = ibis.cases(
        (p.no_kk.notnull(), _text(FAMILY_KEY_PREFIX, p.no_kk)),
        (p.id_keluarga.notnull(), _text("fam:", p.id_keluarga)),
        else_=_text("p:", p.id_dtsen),
    )
    own_basis = ibis.cases(
        (p.no_kk.notnull(), "kk_sumber"), (p.id_keluarga.notnull(), "keluarga_sumber"), else_="sendiri"
    )
    keyed = p.select(
        "id_dtsen",
        kunci_keluarga=ibis.ifelse(p._known, _text(FAMILY_KEY_PREFIX, p.no_kk), own_key),
        dasar=ibis.ifelse(p._known, ibis.literal("kk"), own_basis),
    )
    if field_members is not None:
        keyed = _by_household(keyed, p, field_members)
    if "nama_ibu_kandung" in p.columns:
        keyed = _by_mother(keyed, p)
    return keyed


def _attach(keyed: ir.Table, found: ir.Table, basis: str) -> ir.Table:
    """``keyed`` with the keys ``found`` (id_dtsen -> _k) replacing a person's own, ``dasar`` ``basis``."""
    j = _left(keyed, found.select("id_dtsen", "_k"), "id_dtsen")
    return j.select(
        "id_dtsen",
        kunci_keluarga=ibis.coalesce(j._k, j.kunci_keluarga),
        dasar=ibis.ifelse(j._k.notnull(), ibis.literal(basis), j.dasar),
    )


def _by_household(keyed: ir.Table, p: ir.Table, field_members: ir.Table) -> ir.Table:
    """Persons without a register KK take the register KK their field-household co-members carry."""
    fm = field_members.select("id_dtsen", "id_keluarga", "tanggal_data")
    mine = fm.semi_join(p.filter(~p._known).select("id_dtsen"), "id_dtsen")
    register = p.filter(p._known).select("id_dtsen", "no_kk")
    co = fm.semi_join(mine.select("id_keluarga").distinct(), "id_keluarga")
    co = co.join(register, "id_dtsen").select("id_keluarga", "no_kk", co="id_dtsen")
    j = mine.join(co, "id_keluarga")
    j = j.filter(j.co != j.id_dtsen)
    seen = j.group_by("id_dtsen", "no_kk").aggregate(t=j.tanggal_data.max(), n=j.co.nunique())
    best = _top(seen, "id_dtsen", [ibis.desc(seen.t), ibis.desc(seen.n), seen.no_kk])
    return _attach(
        keyed, best.select("id_dtsen", _k=_text(FAMILY_KEY_PREFIX, best.no_kk)), "rumah_tangga_sumber"
    )


def _name(col: ir.StringValue) -> ir.StringValue:
    return col.upper().re_replace(r"[^A-Z ]", "").re_replace(r"\s+", " ").strip()


def _by_mother(keyed: ir.Table, p: ir.Table) -> ir.Table:
    """A person still in a key with no living adult joins their mother's key when exactly one family
    holds a living woman of that name in the same desa, of a plausible age."""
    k = _left(keyed, p.select("id_dtsen", "umur", "status_hidup"), "id_dtsen")
    living = k.status_hidup.fill_null(True)
    k = k.mutate(_living=living, _adult=(k.umur.fill_null(ADULT_AGE) >= ADULT_AGE) & living)
    adults = k.group_by("kunci_keluarga").aggregate(dewasa=k._adult.any())
    childless = adults.filter(~adults.dewasa).select("kunci_keluarga")
    o = k.semi_join(childless, "kunci_keluarga")
    o = o.filter(o._living & (o.dasar != "kk")).select("id_dtsen")
    o = o.join(p.select("id_dtsen", "kode_desa", lahir="tanggal_lahir", ibu_n="nama_ibu_kandung"), "id_dtsen")
    o = o.filter(o.ibu_n.notnull() & o.kode_desa.notnull())
    orphans = o.select("id_dtsen", "kode_desa", "lahir", _n=_name(o.ibu_n))
    lo, hi = MOTHER_AGE_GAP
    w = p.filter((p.jenis_kelamin == 2) & p.status_hidup.fill_null(True) & p.nama.notnull())
    w = w.select("kode_desa", ibu="id_dtsen", lahir_ibu="tanggal_lahir", _n=_name(w.nama))
    w = w.semi_join(orphans.select("kode_desa", "_n").distinct(), ["kode_desa", "_n"])
    women = w.join(keyed.select(ibu="id_dtsen", _k="kunci_keluarga"), "ibu")
    m = orphans.join(women, ["kode_desa", "_n"])
    gap = m.lahir.year() - m.lahir_ibu.year()
    m = m.filter((m.ibu != m.id_dtsen) & gap.between(lo, hi).fill_null(False))
    match = m.group_by("id_dtsen").aggregate(u=m._k.nunique(), _k=m._k.min())
    match = match.filter(match.u == 1)  # two candidate families: ambiguous, left for review
    return _attach(keyed, match.select("id_dtsen", "_k"), "ibu")


def id_groups(keys: ir.Table) -> tuple[ir.Table, ir.Table]:
    """The family ID registry's groups: one per kunci_keluarga (numbered 1.. in key order), strong key
    the KK, weak keys the members; and id_dtsen -> kunci_keluarga, group."""
    kunci = keys.select("kunci_keluarga").distinct()
    kunci = kunci.mutate(group=(ibis.row_number().over(order_by=kunci.kunci_keluarga) + 1).cast("int64"))
    g = keys.join(kunci, "kunci_keluarga")
    strong = kunci.select("group", kunci="kunci_keluarga", kuat=ibis.literal(True))
    weak = g.select("group", kunci=_text("p:", g.id_dtsen), kuat=ibis.literal(False))
    return ibis.union(strong, weak), g.select("id_dtsen", "kunci_keluarga", "group")


def _complete(keluarga: ir.Table) -> ir.Table:
    """The keluarga rows with every canonical column: a run without a family batch (registers and
    anggota lists only) or a source that lacks a field still builds families, with those facts null."""
    schema = ibis.Schema.from_pyarrow(entity("keluarga").arrow_schema())
    missing = {name: ibis.null(type_) for name, type_ in schema.items() if name not in keluarga.columns}
    return keluarga.mutate(**missing) if missing else keluarga


def golden_families(
    eng: Engine,
    work: Path,
    persons: ir.Table,
    field_members: ir.Table,
    keluarga: ir.Table,
    admin: dict[str, ir.Table],
    survivorship: Survivorship,
    field_sources: list[str],
) -> tuple[ir.Table, FamilyProvenance]:
    """(families, provenance), as engine tables; intermediates read more than once are written under
    ``work`` (``family_members``, ``family_seen``, ``family_facts``).

    ``persons``: golden persons with id_keluarga_dtsen. ``field_members``: id_dtsen, sumber, id_keluarga,
    tanggal_data of every field anggota record. ``keluarga``: canonical keluarga rows of every linked
    source. ``admin``, by registry entity: 'pelanggan_pln' (id_dtsen, daya_va, ...), 'kendaraan'
    (id_dtsen, jenis, ...), 'bidang_tanah' (id_dtsen, penggunaan, ...), each with rid, sumber,
    batch_id, tanggal_data. ``field_sources``: most trusted first (``LinkConfig.field_sources``), for
    ties between field family rows of one date.
    """
    keluarga = _complete(keluarga)
    fam = persons.select("id_dtsen", "id_keluarga_dtsen")
    m = persons
    if "umur" not in m.columns:
        m = m.mutate(umur=ibis.null("int16"))
    if "dasar" not in m.columns:
        m = m.mutate(dasar=ibis.null("string"))
    living = m.status_hidup.fill_null(True)
    head_rank = (
        living.cast("int32") * 4
        + (m.hubungan_siak == 1).fill_null(False).cast("int32") * 2
        + (m.hubungan == 1).fill_null(False).cast("int32")
    )
    m = m.mutate(_head=head_rank, _living=living)
    pos = ibis.row_number().over(
        group_by=m.id_keluarga_dtsen, order_by=[ibis.desc(m._head), m.tanggal_lahir, m.id_dtsen]
    )
    eng.write_work_parquet(m.mutate(_pos=pos), work / "family_members.parquet")
    m = eng.read_parquet(work / "family_members.parquet")
    first = m.filter(m._pos == 0).select(
        "id_keluarga_dtsen", id_kepala=m.id_dtsen, **{c: m[c] for c in LOCATION}
    )
    carded = m.filter(m.no_kk.notnull())
    kk = carded.group_by("id_keluarga_dtsen").aggregate(no_kk=carded.no_kk.argmin(carded._pos))
    agg = m.group_by("id_keluarga_dtsen").aggregate(
        jumlah_anggota=m._living.cast("int32").sum().cast("int16"),
        n_kepala=((m.hubungan_siak == 1) & m._living).fill_null(False).cast("int32").sum(),
        ada_kepala=((m.hubungan_siak == 1) | (m.hubungan == 1)).fill_null(False).any(),
        # an unknown age is not taken for a child (as in cycle/events.py)
        dewasa=(m._living & (m.umur.fill_null(ADULT_AGE) >= ADULT_AGE)).cast("int32").sum(),
        dilekatkan=m.dasar.isin(list(ATTACHING)).fill_null(False).any(),
    )
    heads = _left(first, kk, "id_keluarga_dtsen").join(agg, "id_keluarga_dtsen")
    # which source families the members were seen in; the best one gives the housing/asset facts
    fm = field_members.join(fam, "id_dtsen")
    seen = fm.group_by("id_keluarga_dtsen", "sumber", "id_keluarga").aggregate(
        n=fm.count(), tanggal_data=fm.tanggal_data.max()
    )
    eng.write_work_parquet(seen, work / "family_seen.parquet")
    seen = eng.read_parquet(work / "family_seen.parquet")
    # seen has one row per (family, sumber, id_keluarga): counting rows counts distinct values (a null
    # id_keluarga included, as the Polars rules counted it)
    spread = seen.mutate(_k=seen.id_keluarga_dtsen.count().over(group_by=[seen.sumber, seen.id_keluarga]))
    units = seen.group_by("id_keluarga_dtsen", "sumber").aggregate(u=seen.count())
    conflicts = [
        spread.filter(spread._k > 1).select(
            "id_keluarga_dtsen", kode=ibis.literal("unit_").concat(spread.sumber, "_terpecah")
        ),
        units.filter(units.u > 1).select("id_keluarga_dtsen", kode=_text("banyak_unit_", units.sumber)),
        heads.filter(~heads.ada_kepala).select("id_keluarga_dtsen", kode=ibis.literal("tanpa_kepala")),
        heads.filter(heads.n_kepala > 1).select("id_keluarga_dtsen", kode=ibis.literal("kepala_ganda")),
        heads.filter(heads.dilekatkan).select("id_keluarga_dtsen", kode=ibis.literal(ATTACHED)),
        heads.filter((heads.jumlah_anggota > 0) & (heads.dewasa == 0)).select(
            "id_keluarga_dtsen", kode=ibis.literal(FRAGMENT)
        ),
    ]
    codes = ibis.union(*conflicts)
    konflik = codes.group_by("id_keluarga_dtsen").aggregate(konflik=codes.kode.collect(distinct=True).sort())
    attrs = fact_attributes()
    facts = keluarga.select("id_keluarga", "sumber", "batch_id", "tanggal_data", *attrs)
    eng.write_work_parquet(facts, work / "family_facts.parquet")
    facts = eng.read_parquet(work / "family_facts.parquet")
    n = len(field_sources)
    trust = ibis.cases(*[(seen.sumber == s, n - i) for i, s in enumerate(field_sources)], else_=0) if n else 0
    rows = seen.semi_join(facts, "id_keluarga").mutate(_p=trust)
    # a row without a date first (as the Polars rules sorted it)
    order = [
        ibis.desc(rows.tanggal_data, nulls_first=True),
        ibis.desc(rows.n),
        ibis.desc(rows._p),
        rows.id_keluarga,
    ]
    best = _top(rows, "id_keluarga_dtsen", order).select("id_keluarga_dtsen", "id_keluarga")
    chosen = best.join(facts, "id_keluarga")
    families = _left(heads, chosen.drop("sumber", "batch_id", "tanggal_data"), "id_keluarga_dtsen")
    base = chosen.select("id_keluarga_dtsen", *SOURCE_COLUMNS)
    admin_prov = eng.memtable(FAMILY_PROVENANCE.arrow.empty_table())
    if survivorship.admin_over_self_report:
        families, admin_prov = _admin_overrides(eng, work, families, fam, admin, survivorship)
    compact = _compact_provenance(base, admin_prov)
    families = _left(families, konflik, "id_keluarga_dtsen")
    families = families.mutate(
        konflik=ibis.coalesce(families.konflik, ibis.literal([], type="array<string>"))
    )
    out = ["id_keluarga_dtsen", "id_kepala", "no_kk", "jumlah_anggota", *LOCATION, *attrs, "konflik"]
    return families.select(*out), FamilyProvenance(compact, attrs)


def _compact_provenance(base: ir.Table, admin: ir.Table) -> ir.Table:
    """:class:`FamilyProvenance` rows from the chosen field rows and the registry facts (unsorted)."""
    ids = ibis.union(base.select("id_keluarga_dtsen"), admin.select("id_keluarga_dtsen"), distinct=True)
    out = _left(ids, base.mutate(_ada_dasar=ibis.literal(True)), "id_keluarga_dtsen")
    out = out.mutate(_ada_dasar=out._ada_dasar.fill_null(False))
    for a in ADMIN_ATTRIBUTES:
        facts = admin.filter(admin.atribut == a)
        facts = facts.select("id_keluarga_dtsen", **{f"_{a}_{c}": facts[c] for c in SOURCE_COLUMNS})
        out = _left(out, facts, "id_keluarga_dtsen")
        mine, field = out[f"_{a}_tanggal_data"], out.tanggal_data
        newer = (mine > field) | (field.isnull() & mine.notnull())
        wins = out[f"_{a}_sumber"].notnull() & (~out._ada_dasar | newer.fill_null(False))
        out = out.mutate(**{f"_{a}_pakai": wins})
    return out


def family_provenance(compact: ir.Table, attributes: list[str]) -> ir.Table:
    """(entitas, id, atribut, sumber, batch_id, tanggal_data) per family attribute from the
    :class:`FamilyProvenance` rows, in (id, atribut) order without a sort: ``compact`` is sorted by id,
    ``attributes`` by name, and unnesting keeps both orders."""
    t = compact
    u = t.select(*t.columns, atribut=ibis.literal(sorted(attributes), type="array<string>").unnest())
    wins = [((u.atribut == a) & u[f"_{a}_pakai"], a) for a in ADMIN_ATTRIBUTES]
    u = u.filter(ibis.or_(u._ada_dasar, *[cond for cond, _ in wins]))
    wins = [((u.atribut == a) & u[f"_{a}_pakai"], a) for a in ADMIN_ATTRIBUTES]  # on the filtered rows

    def pick(column: str) -> ir.Value:
        return ibis.cases(*[(cond, u[f"_{a}_{column}"]) for cond, a in wins], else_=u[column])

    return u.select(
        entitas=ibis.literal("family"),
        id=u.id_keluarga_dtsen,
        atribut=u.atribut,
        sumber=pick("sumber"),
        batch_id=pick("batch_id"),
        tanggal_data=pick("tanggal_data"),
    )


def _va_code(va: ir.IntegerValue) -> ir.IntegerValue:
    """DayaListrik code of an installed power in VA (the limits of DayaListrik.from_va)."""
    limits = (
        (450, DayaListrik.VA_450),
        (900, DayaListrik.VA_900),
        (1300, DayaListrik.VA_1300),
        (2200, DayaListrik.VA_2200),
    )
    cases = [(va <= limit, int(member)) for limit, member in limits]
    return ibis.cases(*cases, else_=int(DayaListrik.VA_LEBIH_2200)).cast("int8")


def _admin_overrides(
    eng: Engine, work: Path, families: ir.Table, fam: ir.Table, admin: dict[str, ir.Table], s: Survivorship
) -> tuple[ir.Table, ir.Table]:
    """Registry facts over self-report: PLN power (largest connection), car/motorcycle, other land; per
    family and fact the first record (rid) on a tie, the order the Polars rules kept. The facts are
    written to ``work/family_admin.parquet``; an attribute no family has a fact for keeps self-report."""
    facts = []

    def fact(t: ir.Table, attr: str, value: ir.Value, latest: str) -> ir.Table:
        """The row with the largest ``latest`` (a null first, as Polars sorted it) per family."""
        t = t.mutate(_v=value)
        t = _top(t, "id_keluarga_dtsen", [ibis.desc(t[latest], nulls_first=True), t.rid])
        return t.select("id_keluarga_dtsen", *SOURCE_COLUMNS, atribut=ibis.literal(attr), nilai=t._v)

    one = ibis.literal(1, "int8")
    pln = admin.get("pelanggan_pln")
    if pln is not None:
        f = pln.join(fam, "id_dtsen")
        f = f.filter(f.daya_va.notnull())
        facts.append(fact(f, "daya_listrik", _va_code(f.daya_va), "daya_va"))
    veh = admin.get("kendaraan")
    if veh is not None:
        v = veh.join(fam, "id_dtsen")
        for attr, kinds in (("aset_mobil", s.car_types), ("aset_sepeda_motor", s.motorcycle_types)):
            hit = v.filter(v.jenis.isin(list(kinds)))
            facts.append(fact(hit, attr, one, "tanggal_data"))
    land = admin.get("bidang_tanah")
    if land is not None:
        t = land.join(fam, "id_dtsen")
        t = t.filter(t.penggunaan.fill_null("") != s.house_plot_use)
        facts.append(fact(t, "lahan_lain", one, "tanggal_data"))
    if not facts:
        return families, eng.memtable(FAMILY_PROVENANCE.arrow.empty_table())
    eng.write_work_parquet(ibis.union(*facts), work / "family_admin.parquet")
    allf = eng.read_parquet(work / "family_admin.parquet")
    present = set(eng.to_pyarrow(allf.select("atribut").distinct())["atribut"].to_pylist())
    attrs = [a for a in ADMIN_ATTRIBUTES if a in present]
    if attrs:
        wide = allf.group_by("id_keluarga_dtsen").aggregate(
            **{f"_adm_{a}": allf.nilai.max(where=allf.atribut == a) for a in attrs}
        )
        out = _left(families, wide, "id_keluarga_dtsen")
        values = {}
        for a in attrs:
            adm = out[f"_adm_{a}"]
            if a == "daya_listrik":
                values[a] = ibis.ifelse(adm.notnull(), adm.cast(families[a].type()), out[a])
            elif s.admin_absence_is_false:
                values[a] = adm.notnull()
            else:
                values[a] = ibis.ifelse(adm.notnull(), ibis.literal(True), out[a])
        families = out.mutate(**values).drop(*[f"_adm_{a}" for a in attrs])
    schema = ibis.Schema.from_pyarrow(FAMILY_PROVENANCE.arrow)
    return families, allf.select(*FAMILY_PROVENANCE.columns).cast(schema)
