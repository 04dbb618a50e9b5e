"""The golden-family rules as they were in Polars (families.py before they became engine queries), the
reference the engine rules are compared with on seeded random frames (test_family_engine.py)."""

from __future__ import annotations

import polars as pl

from dtsen.canonical.model import entity
from dtsen.linkage.config import Survivorship
from dtsen.linkage.families import (
    ADMIN_ATTRIBUTES,
    ADULT_AGE,
    ATTACHED,
    ATTACHING,
    FRAGMENT,
    MOTHER_AGE_GAP,
    SOURCE_COLUMNS,
    fact_attributes,
)
from dtsen.linkage.ids import FAMILY_KEY_PREFIX
from dtsen.reference.codes import DayaListrik
from dtsen.tables import FAMILY_PROVENANCE, LOCATION


def family_keys(
    persons: pl.DataFrame, latest_family: pl.DataFrame, field_members: pl.DataFrame | None = None
) -> pl.DataFrame:
    """:func:`dtsen.linkage.families.family_keys` as it was in Polars."""
    p = persons.join(latest_family.select("id_dtsen", "id_keluarga"), on="id_dtsen", how="left")
    own = (
        pl.when(pl.col("no_kk").is_not_null())
        .then(pl.struct(k=pl.format(f"{FAMILY_KEY_PREFIX}{{}}", "no_kk"), d=pl.lit("kk_sumber")))
        .when(pl.col("id_keluarga").is_not_null())
        .then(pl.struct(k=pl.format("fam:{}", "id_keluarga"), d=pl.lit("keluarga_sumber")))
        .otherwise(pl.struct(k=pl.format("p:{}", "id_dtsen"), d=pl.lit("sendiri")))
    )
    if "di_dukcapil" not in p.columns:  # no register evidence given: every card counts as the register's
        p = p.with_columns(di_dukcapil=pl.col("no_kk").is_not_null())
    register_kk = p.filter(pl.col("di_dukcapil") & pl.col("no_kk").is_not_null()).select("no_kk").unique()
    known = pl.col("no_kk").is_in(register_kk["no_kk"].implode())
    p = p.with_columns(_known=known.fill_null(False))
    keyed = p.with_columns(
        _o=pl.when(pl.col("_known"))
        .then(pl.struct(k=pl.format(f"{FAMILY_KEY_PREFIX}{{}}", "no_kk"), d=pl.lit("kk")))
        .otherwise(own)
    ).select("id_dtsen", kunci_keluarga=pl.col("_o").struct["k"], dasar=pl.col("_o").struct["d"])
    loose = p.filter(~pl.col("_known")).select("id_dtsen")
    if loose.height and field_members is not None and field_members.height:
        keyed = _by_household(keyed, loose, p, field_members)
    if loose.height and "nama_ibu_kandung" in p.columns:
        keyed = _by_mother(keyed, p)
    return keyed


def _by_household(
    keyed: pl.DataFrame, loose: pl.DataFrame, p: pl.DataFrame, field_members: pl.DataFrame
) -> pl.DataFrame:
    """Persons without a register KK take the register KK their field-household co-members carry."""
    mine = field_members.join(loose, on="id_dtsen", how="semi").select(
        "id_dtsen", "id_keluarga", "tanggal_data"
    )
    register = p.filter(pl.col("_known")).select("id_dtsen", "no_kk")
    co = (
        field_members.join(mine.select("id_keluarga").unique(), on="id_keluarga", how="semi")
        .join(register, on="id_dtsen")
        .select("id_keluarga", "no_kk", co="id_dtsen")
    )
    best = (
        mine.join(co, on="id_keluarga")
        .filter(pl.col("co") != pl.col("id_dtsen"))
        .group_by("id_dtsen", "no_kk")
        .agg(t=pl.col("tanggal_data").max(), n=pl.col("co").n_unique())
        .sort(["id_dtsen", "t", "n", "no_kk"], descending=[False, True, True, False], nulls_last=True)
        .unique("id_dtsen", keep="first", maintain_order=True)
        .select("id_dtsen", _k=pl.format(f"{FAMILY_KEY_PREFIX}{{}}", "no_kk"))
    )
    return (
        keyed.join(best, on="id_dtsen", how="left")
        .with_columns(
            kunci_keluarga=pl.coalesce("_k", "kunci_keluarga"),
            dasar=pl.when(pl.col("_k").is_not_null()).then(pl.lit("rumah_tangga_sumber")).otherwise("dasar"),
        )
        .drop("_k")
    )


def _name(col: str) -> pl.Expr:
    return (
        pl.col(col)
        .str.to_uppercase()
        .str.replace_all(r"[^A-Z ]", "")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )


def _by_mother(keyed: pl.DataFrame, p: pl.DataFrame) -> pl.DataFrame:
    """A person still in a key with no living adult joins their mother's key when exactly one family
    holds a living woman of that name in the same desa, of a plausible age."""
    living = pl.col("status_hidup").fill_null(True)
    k = keyed.join(p.select("id_dtsen", "umur", "status_hidup"), on="id_dtsen", how="left")
    adults = k.group_by("kunci_keluarga").agg(
        dewasa=((pl.col("umur").fill_null(ADULT_AGE) >= ADULT_AGE) & living).any()
    )
    orphans = (
        k.join(adults.filter(~pl.col("dewasa")), on="kunci_keluarga", how="semi")
        .filter(living & (pl.col("dasar") != "kk"))
        .join(p.select("id_dtsen", "nama_ibu_kandung", "tanggal_lahir", "kode_desa"), on="id_dtsen")
        .filter(pl.col("nama_ibu_kandung").is_not_null() & pl.col("kode_desa").is_not_null())
        .select("id_dtsen", "kode_desa", lahir="tanggal_lahir", _n=_name("nama_ibu_kandung"))
    )
    if orphans.is_empty():
        return keyed
    lo, hi = MOTHER_AGE_GAP
    women = (
        p.filter((pl.col("jenis_kelamin") == 2) & living & pl.col("nama").is_not_null())
        .join(orphans.select("kode_desa").unique(), on="kode_desa", how="semi")
        .with_columns(_n=_name("nama"))
        .join(orphans.select("_n").unique(), on="_n", how="semi")
        .join(keyed.select("id_dtsen", "kunci_keluarga"), on="id_dtsen")
        .select("kode_desa", "_n", ibu="id_dtsen", lahir_ibu="tanggal_lahir", _k="kunci_keluarga")
    )
    gap = pl.col("lahir").dt.year() - pl.col("lahir_ibu").dt.year()
    match = (
        orphans.join(women, on=["kode_desa", "_n"])
        .filter(pl.col("ibu") != pl.col("id_dtsen"))
        .filter(gap.is_between(lo, hi).fill_null(False))
        .group_by("id_dtsen")
        .agg(pl.col("_k").unique())
        .filter(pl.col("_k").list.len() == 1)  # two candidate families: ambiguous, left for review
        .select("id_dtsen", _k=pl.col("_k").list.first())
    )
    return (
        keyed.join(match, on="id_dtsen", how="left")
        .with_columns(
            kunci_keluarga=pl.coalesce("_k", "kunci_keluarga"),
            dasar=pl.when(pl.col("_k").is_not_null()).then(pl.lit("ibu")).otherwise("dasar"),
        )
        .drop("_k")
    )


def id_groups(keys: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The family ID registry's groups: one per kunci_keluarga, strong key the KK, weak keys the members."""
    g = keys.with_columns(group=pl.col("kunci_keluarga").rank("dense").cast(pl.Int64))
    strong = g.select("group", kunci="kunci_keluarga").unique().with_columns(kuat=pl.lit(True))
    weak = g.select("group", kunci=pl.format("p:{}", "id_dtsen"), kuat=pl.lit(False))
    return pl.concat([strong, weak]), g.select("id_dtsen", "kunci_keluarga", "group")


def _complete(keluarga: pl.DataFrame) -> pl.DataFrame:
    """The keluarga rows with every canonical column: a run without a family batch (registers and
    anggota lists only) or a source that lacks a field still builds families, with those facts null."""
    schema = entity("keluarga").polars_schema()
    missing = [
        pl.lit(None, dtype).alias(name) for name, dtype in schema.items() if name not in keluarga.columns
    ]
    return keluarga.with_columns(missing) if missing else keluarga


def golden_families(
    persons: pl.DataFrame,
    field_members: pl.DataFrame,
    keluarga: pl.DataFrame,
    admin: dict[str, pl.DataFrame],
    survivorship: Survivorship,
    field_sources: list[str],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(families, provenance).

    ``persons``: golden persons with id_keluarga_dtsen. ``field_members``: id_dtsen, sumber, id_keluarga,
    tanggal_data of every field anggota record. ``keluarga``: canonical keluarga rows of every linked
    source. ``admin``, by registry entity: 'pelanggan_pln' (id_dtsen, daya_va, ...), 'kendaraan'
    (id_dtsen, jenis, ...), 'bidang_tanah' (id_dtsen, penggunaan, ...), each with sumber, batch_id,
    tanggal_data. ``field_sources``: most trusted first (``LinkConfig.field_sources``), for ties between
    field family rows of one date.
    """
    keluarga = _complete(keluarga)
    fam = persons.select("id_dtsen", "id_keluarga_dtsen")
    living = pl.col("status_hidup").fill_null(True)
    head_rank = (
        living.cast(pl.Int32) * 4
        + (pl.col("hubungan_siak") == 1).fill_null(False).cast(pl.Int32) * 2
        + (pl.col("hubungan") == 1).fill_null(False).cast(pl.Int32)
    )
    members = persons.with_columns(_head=head_rank, _living=living)
    if "umur" not in members.columns:
        members = members.with_columns(umur=pl.lit(None, pl.Int16))
    if "dasar" not in members.columns:
        members = members.with_columns(dasar=pl.lit(None, pl.String))
    heads = (
        members.sort(
            ["id_keluarga_dtsen", "_head", "tanggal_lahir", "id_dtsen"],
            descending=[False, True, False, False],
            nulls_last=True,
        )
        .group_by("id_keluarga_dtsen", maintain_order=True)
        .agg(
            id_kepala=pl.col("id_dtsen").first(),
            no_kk=pl.col("no_kk").drop_nulls().first(),
            jumlah_anggota=pl.col("_living").sum().cast(pl.Int16),
            n_kepala=((pl.col("hubungan_siak") == 1) & pl.col("_living")).sum(),
            ada_kepala=((pl.col("hubungan_siak") == 1) | (pl.col("hubungan") == 1)).any(),
            # an unknown age is not taken for a child (as in cycle/events.py)
            dewasa=(pl.col("_living") & (pl.col("umur").fill_null(ADULT_AGE) >= ADULT_AGE)).sum(),
            dilekatkan=pl.col("dasar").is_in(list(ATTACHING)).any(),
            **{c: pl.col(c).first() for c in LOCATION},
        )
    )
    # which source families the members were seen in; the best one gives the housing/asset facts
    seen = (
        field_members.join(fam, on="id_dtsen")
        .group_by("id_keluarga_dtsen", "sumber", "id_keluarga")
        .agg(n=pl.len(), tanggal_data=pl.col("tanggal_data").max())
    )
    conflicts = [
        seen.group_by("sumber", "id_keluarga")
        .agg(pl.col("id_keluarga_dtsen").n_unique().alias("k"), pl.col("id_keluarga_dtsen"))
        .filter(pl.col("k") > 1)
        .explode("id_keluarga_dtsen")
        .select("id_keluarga_dtsen", kode=pl.format("unit_{}_terpecah", "sumber")),
        seen.group_by("id_keluarga_dtsen", "sumber")
        .agg(u=pl.col("id_keluarga").n_unique())
        .filter(pl.col("u") > 1)
        .select("id_keluarga_dtsen", kode=pl.format("banyak_unit_{}", "sumber")),
        heads.filter(~pl.col("ada_kepala")).select("id_keluarga_dtsen", kode=pl.lit("tanpa_kepala")),
        heads.filter(pl.col("n_kepala") > 1).select("id_keluarga_dtsen", kode=pl.lit("kepala_ganda")),
        heads.filter(pl.col("dilekatkan")).select("id_keluarga_dtsen", kode=pl.lit(ATTACHED)),
        heads.filter((pl.col("jumlah_anggota") > 0) & (pl.col("dewasa") == 0)).select(
            "id_keluarga_dtsen", kode=pl.lit(FRAGMENT)
        ),
    ]
    konflik = (
        pl.concat(conflicts)
        .unique()
        .sort("id_keluarga_dtsen", "kode")
        .group_by("id_keluarga_dtsen", maintain_order=True)
        .agg(konflik=pl.col("kode"))
    )
    attrs = fact_attributes()
    with_facts = keluarga.select("id_keluarga", "sumber", "batch_id", "tanggal_data", *attrs)
    order = {s: len(field_sources) - i for i, s in enumerate(field_sources)}
    chosen = (
        seen.join(with_facts.select("id_keluarga"), on="id_keluarga", how="semi")
        .with_columns(_p=pl.col("sumber").replace_strict(order, default=0, return_dtype=pl.Int64))
        .sort(
            ["id_keluarga_dtsen", "tanggal_data", "n", "_p", "id_keluarga"],
            descending=[False, True, True, True, False],
        )
        .unique("id_keluarga_dtsen", keep="first", maintain_order=True)
        .select("id_keluarga_dtsen", "id_keluarga")
        .join(with_facts, on="id_keluarga")
    )
    families = heads.join(
        chosen.drop("sumber", "batch_id", "tanggal_data"), on="id_keluarga_dtsen", how="left"
    )
    base = chosen.select("id_keluarga_dtsen", *SOURCE_COLUMNS).unique(
        "id_keluarga_dtsen", keep="first", maintain_order=True
    )
    admin_prov = FAMILY_PROVENANCE.empty()
    if survivorship.admin_over_self_report:
        families, admin_prov = _admin_overrides(families, fam, admin, survivorship)
    compact = _compact_provenance(base, admin_prov)
    families = families.join(konflik, on="id_keluarga_dtsen", how="left").with_columns(
        konflik=pl.col("konflik").fill_null(pl.lit([], pl.List(pl.String)))
    )
    families = families.drop("n_kepala", "ada_kepala", "dewasa", "dilekatkan", "id_keluarga")
    return families, compact


def _compact_provenance(base: pl.DataFrame, admin: pl.DataFrame) -> pl.DataFrame:
    """:class:`FamilyProvenance` rows from the chosen field rows and the registry facts."""
    ids = pl.concat([base["id_keluarga_dtsen"], admin["id_keluarga_dtsen"]]).unique().sort()
    out = ids.to_frame().join(base.with_columns(_ada_dasar=pl.lit(True)), on="id_keluarga_dtsen", how="left")
    out = out.with_columns(pl.col("_ada_dasar").fill_null(False))
    for a in ADMIN_ATTRIBUTES:
        facts = admin.filter(pl.col("atribut") == a).unique(
            "id_keluarga_dtsen", keep="first", maintain_order=True
        )
        out = out.join(
            facts.select("id_keluarga_dtsen", *[pl.col(c).alias(f"_{a}_{c}") for c in SOURCE_COLUMNS]),
            on="id_keluarga_dtsen",
            how="left",
        )
        mine, field = pl.col(f"_{a}_tanggal_data"), pl.col("tanggal_data")
        newer = (mine > field) | (field.is_null() & mine.is_not_null())
        wins = pl.col(f"_{a}_sumber").is_not_null() & (~pl.col("_ada_dasar") | newer.fill_null(False))
        out = out.with_columns(wins.alias(f"_{a}_pakai"))
    return out.sort("id_keluarga_dtsen")


def _va_code(va: pl.Expr) -> pl.Expr:
    """DayaListrik code of an installed power in VA (the limits of DayaListrik.from_va)."""
    code = pl.lit(int(DayaListrik.VA_LEBIH_2200), pl.Int8)
    for limit, member in (
        (2200, DayaListrik.VA_2200),
        (1300, DayaListrik.VA_1300),
        (900, DayaListrik.VA_900),
        (450, DayaListrik.VA_450),
    ):
        code = pl.when(va <= limit).then(pl.lit(int(member), pl.Int8)).otherwise(code)
    return code


def _admin_overrides(
    families: pl.DataFrame, fam: pl.DataFrame, admin: dict[str, pl.DataFrame], s: Survivorship
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Registry facts over self-report: PLN power (largest connection), car/motorcycle, other land."""
    facts = []
    pln = admin.get("pelanggan_pln")
    if pln is not None and pln.height:
        f = pln.join(fam, on="id_dtsen").filter(pl.col("daya_va").is_not_null())
        f = f.sort("daya_va", descending=True).unique("id_keluarga_dtsen", keep="first", maintain_order=True)
        facts.append(
            f.select(
                "id_keluarga_dtsen",
                "sumber",
                "batch_id",
                "tanggal_data",
                atribut=pl.lit("daya_listrik"),
                nilai=_va_code(pl.col("daya_va")),
            )
        )
    veh = admin.get("kendaraan")
    if veh is not None and veh.height:
        v = veh.join(fam, on="id_dtsen")
        for attr, kinds in (("aset_mobil", s.car_types), ("aset_sepeda_motor", s.motorcycle_types)):
            hit = (
                v.filter(pl.col("jenis").is_in(kinds))
                .sort("tanggal_data", descending=True)
                .unique("id_keluarga_dtsen", keep="first", maintain_order=True)
            )
            facts.append(
                hit.select(
                    "id_keluarga_dtsen",
                    "sumber",
                    "batch_id",
                    "tanggal_data",
                    atribut=pl.lit(attr),
                    nilai=pl.lit(1, pl.Int8),
                )
            )
    land = admin.get("bidang_tanah")
    if land is not None and land.height:
        t = land.join(fam, on="id_dtsen").filter(pl.col("penggunaan").fill_null("") != s.house_plot_use)
        t = t.sort("tanggal_data", descending=True).unique(
            "id_keluarga_dtsen", keep="first", maintain_order=True
        )
        facts.append(
            t.select(
                "id_keluarga_dtsen",
                "sumber",
                "batch_id",
                "tanggal_data",
                atribut=pl.lit("lahan_lain"),
                nilai=pl.lit(1, pl.Int8),
            )
        )
    if not facts:
        return families, FAMILY_PROVENANCE.empty()
    allf = pl.concat(facts)
    wide = allf.pivot(on="atribut", index="id_keluarga_dtsen", values="nilai")
    out = families.join(
        wide.rename({c: f"_adm_{c}" for c in wide.columns if c != "id_keluarga_dtsen"}),
        on="id_keluarga_dtsen",
        how="left",
    )
    for attr in ADMIN_ATTRIBUTES:
        col = f"_adm_{attr}"
        if col not in out.columns:
            continue
        admin_value = (
            pl.col(col).cast(out.schema[attr]) if attr == "daya_listrik" else pl.col(col).is_not_null()
        )
        if attr == "daya_listrik" or not s.admin_absence_is_false:
            value = pl.when(pl.col(col).is_not_null()).then(admin_value).otherwise(pl.col(attr))
        else:
            value = admin_value
        out = out.with_columns(value.alias(attr)).drop(col)
    provenance = allf.select(*FAMILY_PROVENANCE.columns)
    return out, provenance.cast(FAMILY_PROVENANCE.polars)  # type: ignore[arg-type]
