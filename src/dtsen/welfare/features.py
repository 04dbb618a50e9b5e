"""One feature builder for the survey and the registry: canonical ``keluarga`` + ``anggota`` -> features.

Training (Susenas ``survei_rumah_tangga`` + its ``anggota``) and scoring (golden families + persons) go
through the same Ibis expression, so a feature can never mean one thing in training and another in
production; it runs on DuckDB or Spark through :mod:`dtsen.engine`.

Every model feature is numeric and oriented so that its monotone constraint (``sign``) says what economics
demands: +1 when more of it (assets, better housing, education) may never lower the estimate, -1 when it
may never raise it, 0 when the data decide. Code-list columns become indicators of economically ordered
groups of codes rather than their raw numbers, which carry no order. Program receipt (``terima_*``) is
left out on purpose: it is the outcome of earlier targeting, and using it would make the rank circular.

Only living members count (``status_hidup`` not False, ``keberadaan`` not died/moved); the head is the
member coded head (Regsosek or SIAK), else the oldest living member, ties broken by member id.

Missing is not zero: a housing or asset item nobody observed stays null here (a family the field surveys
never visited has no floor, not an earthen one). The models impute the survey's weighted mean for it
(:func:`dtsen.welfare.score.predict_batch`), the explanations name it as missing, and the observation
counts (:data:`OBSERVATION_COLUMNS`) let the ranking refuse a family with nothing observed at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

ELDERLY_AGE = 60  # lansia (UU 13/1998)
CHILD_AGE = 15
DISABILITY_LEVEL = 3  # Washington Group: "a lot of difficulty" or worse
DIFFICULTIES = (
    "sulit_melihat",
    "sulit_mendengar",
    "sulit_berjalan",
    "sulit_motorik_halus",
    "sulit_belajar",
    "sulit_perilaku",
    "sulit_komunikasi",
    "sulit_mengurus_diri",
    "sulit_mengingat",
)
ASSETS = (
    "aset_tabung_gas",
    "aset_lemari_es",
    "aset_ac",
    "aset_pemanas_air",
    "aset_telepon_rumah",
    "aset_tv_layar_datar",
    "aset_emas_perhiasan",
    "aset_komputer",
    "aset_sepeda_motor",
    "aset_sepeda",
    "aset_mobil",
    "aset_perahu",
    "aset_perahu_motor",
    "aset_smartphone",
    "lahan_lain",
    "rumah_lain",
    "internet",
    "rekening_bank",
)
LIVESTOCK = ("ternak_sapi", "ternak_kerbau", "ternak_kuda", "ternak_babi", "ternak_kambing_domba")
# Raw codes kept next to the features so explanations can name the family's actual answer.
INFO_COLUMNS = (
    "lantai",
    "dinding",
    "atap",
    "sumber_air_minum",
    "sumber_penerangan",
    "daya_listrik",
    "bahan_bakar_masak",
    "fasilitas_bab",
    "kepala_ijazah",
    "kepala_status_pekerjaan",
    "ijazah_maks",
    "jumlah_ternak",
    "jumlah_anak",
    "jumlah_lansia",
)
# Family items only a field survey (Regsosek, DTKS, P3KE, Susenas) observes; PLN power, vehicles and land
# also come from administrative registers, so they do not prove a household was surveyed.
SURVEY_ITEMS = (
    "status_bangunan",
    "luas_lantai",
    "lantai",
    "dinding",
    "atap",
    "sumber_air_minum",
    "sumber_penerangan",
    "bahan_bakar_masak",
    "fasilitas_bab",
)
ADMIN_ITEMS = ("daya_listrik", "aset_mobil", "aset_sepeda_motor", "lahan_lain")
# Observation counts and the oldest living member's age, next to the features: the ranking status reads them.
OBSERVATION_COLUMNS = ("item_survei_teramati", "item_administratif_teramati", "umur_maks")
# SIAK's education on the family card (PDDK_AKH 1-10) as the Regsosek diploma scale (0-6), for golden
# persons whose diploma only SIAK knows
SIAK_TO_IJAZAH = {1: 0, 2: 0, 3: 1, 4: 2, 5: 3, 6: 4, 7: 4, 8: 5, 9: 6, 10: 6}


@dataclass(frozen=True)
class Feature:
    """A model input: its column, the explanation group it belongs to and its monotone sign."""

    name: str
    group: str
    sign: int = 0
    categorical: bool = False
    # > 0: a numeric area code of this level of the region hierarchy (1 = province, 2 = kab/kota, ...);
    # the models give every level a shrunken effect (dtsen.welfare.areas), never a raw-code slope
    area: int = 0


FEATURES: tuple[Feature, ...] = (
    # household size and composition
    Feature("log_jumlah_anggota", "ukuran_keluarga"),
    Feature("porsi_anak", "komposisi"),
    Feature("porsi_lansia", "komposisi"),
    Feature("rasio_ketergantungan", "komposisi"),
    Feature("porsi_pekerja", "pekerja", +1),
    Feature("jumlah_pekerja", "pekerja", +1),
    # head of family
    Feature("kepala_perempuan", "kepala_demografi"),
    Feature("kepala_umur", "kepala_demografi"),
    Feature("kepala_lansia", "kepala_demografi"),
    Feature("kepala_kawin", "kepala_demografi"),
    Feature("kepala_ijazah", "kepala_pendidikan", +1),
    Feature("kepala_bekerja", "kepala_pekerjaan"),
    Feature("kepala_pertanian", "kepala_pekerjaan"),
    Feature("kepala_pns", "kepala_pekerjaan"),
    Feature("kepala_karyawan", "kepala_pekerjaan"),
    Feature("kepala_pengusaha", "kepala_pekerjaan"),
    Feature("kepala_pekerja_bebas", "kepala_pekerjaan"),
    # other members
    Feature("ijazah_maks", "pendidikan_keluarga", +1),
    Feature("ada_pns", "pekerjaan_keluarga", +1),
    Feature("ada_npwp", "pekerjaan_keluarga", +1),
    Feature("ada_usaha_berkaryawan", "pekerjaan_keluarga", +1),
    Feature("ada_jkn_pemberi_kerja", "pekerjaan_keluarga", +1),
    Feature("ada_disabilitas", "disabilitas"),
    Feature("ada_penyakit_kronis", "kesehatan"),
    # housing (Blok III)
    Feature("rumah_milik", "status_rumah"),
    Feature("rumah_sewa", "status_rumah"),
    Feature("log_luas_lantai_per_kapita", "luas_lantai", +1),
    Feature("lantai_baik", "lantai", +1),
    Feature("lantai_tanah_bambu", "lantai", -1),
    Feature("dinding_tembok", "dinding", +1),
    Feature("dinding_bambu", "dinding", -1),
    Feature("atap_baik", "atap", +1),
    Feature("atap_jerami_bambu", "atap", -1),
    Feature("air_layak", "air_minum", +1),
    Feature("air_kemasan", "air_minum", +1),
    Feature("air_tidak_layak", "air_minum", -1),
    Feature("tanpa_listrik", "penerangan", -1),
    Feature("daya_listrik_va", "penerangan", +1),
    Feature("masak_gas_besar", "bahan_bakar", +1),
    Feature("masak_kayu_arang", "bahan_bakar", -1),
    Feature("bab_sendiri", "sanitasi", +1),
    Feature("bab_tidak_ada", "sanitasi", -1),
    Feature("tinja_septik", "sanitasi", +1),
    # assets (Blok V): owning more never lowers the estimate
    *(Feature(a, a, +1) for a in ASSETS),
    Feature("jumlah_aset", "jumlah_aset", +1),
    *(Feature(f"log_{t}", "ternak", +1) for t in LIVESTOCK),
    # region effects
    Feature("prov", "wilayah", categorical=True, area=1),
    Feature("kab", "wilayah", area=2),
    Feature("kec", "wilayah", area=3),
    Feature("desa", "wilayah", area=4),
    Feature("perkotaan", "wilayah"),
    Feature("kota", "wilayah"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
# What the registry knows of a family no field survey visited: the population register (size, ages, sex,
# marital status and education on the family card), administrative registers (PLN power class, vehicles,
# land) and the region. The administrative-data model is trained on the survey with only these, so it
# ranks such families on what is really known of them (dtsen.welfare.train.admin_view).
ADMIN_FEATURES: tuple[str, ...] = (
    "log_jumlah_anggota",
    "porsi_anak",
    "porsi_lansia",
    "rasio_ketergantungan",
    "kepala_perempuan",
    "kepala_umur",
    "kepala_lansia",
    "kepala_kawin",
    "kepala_ijazah",
    "ijazah_maks",
    "daya_listrik_va",
    "aset_mobil",
    "aset_sepeda_motor",
    "lahan_lain",
    "prov",
    "kab",
    "kec",
    "desa",
    "perkotaan",
    "kota",
)
DAYA_VA = {1: 450.0, 2: 900.0, 3: 1300.0, 4: 2200.0, 5: 3500.0}


def _col(t: ir.Table, name: str, dtype: str) -> ir.Value:
    """The column, or a typed null when this table does not have it (a survey may lack an item)."""
    return t[name].cast(dtype) if name in t.columns else ibis.null().cast(dtype)


def _flag(value: ir.Value, codes: list[int]) -> ir.Value:
    """1.0 when the code is one of ``codes``, 0.0 otherwise (also when unknown)."""
    return value.isin(codes).fill_null(False).cast("float64")


def _observed_flag(value: ir.Value, codes: list[int], parent: ir.Value | None = None) -> ir.Value:
    """1.0 when the code is one of ``codes``, 0.0 for another code, null when nobody observed it.

    ``parent`` is the question that decides whether this one is asked (no toilet: no septic tank
    question); when the parent was answered, a missing answer here means "not applicable", i.e. 0.0.
    """
    unknown = value.isnull() if parent is None else value.isnull() & parent.isnull()
    return ibis.ifelse(unknown, ibis.null("float64"), value.isin(codes).fill_null(False).cast("float64"))


def _observed_count(values: list[ir.Value]) -> ir.Value:
    return sum((v.notnull().cast("int32") for v in values), ibis.literal(0, "int32"))


def living_members(members: ir.Table, key: str) -> ir.Table:
    """Members who live in the family now: not dead in Dukcapil, not reported died or moved away."""
    alive = _col(members, "status_hidup", "boolean").fill_null(True)
    present = ~_col(members, "keberadaan", "int8").isin([2, 3, 4]).fill_null(False)
    return members.filter(alive & present & members[key].notnull())


def build_features(
    families: ir.Table,
    members: ir.Table,
    key: str = "id_keluarga_dtsen",
    extra: tuple[str, ...] = (),
    size_column: bool = False,
    bps_codes: bool = True,
) -> ir.Table:
    """One row per family: ``key``, ``kode_prov``, ``kode_kab``, ``jumlah_anggota`` (living members, the
    ranking weight), every feature in :data:`FEATURES` as float64, the :data:`INFO_COLUMNS` and the
    family columns named in ``extra`` (a survey config's own numeric features) as float64.

    ``size_column``: the household size is the family's ``jumlah_anggota`` (a survey's own household-size
    column), not the count of member rows (a household-level survey has none). ``bps_codes``: region
    codes are BPS codes, so a kab/kota code 71+ is a kota and digit 7 of a desa code 1 a kelurahan (the
    registry's stand-in for the urban classification it lacks); otherwise urban comes only from a
    ``perkotaan`` column and ``kota`` is 0: no rule is applied to codes it was not written for.
    """
    member_id = next((c for c in ("id_dtsen", "id_anggota") if c in members.columns), None)
    m = living_members(members, key)
    umur = _col(m, "umur", "int32")
    ijazah = ibis.coalesce(
        _col(m, "ijazah_tertinggi", "int8").cast("int32"),
        _col(m, "pendidikan_siak", "int8").cast("int32").substitute(SIAK_TO_IJAZAH, else_=ibis.null("int32")),
    )
    status = _col(m, "status_pekerjaan", "int8").cast("int32")
    disabled = ibis.greatest(*(_col(m, d, "int8") for d in DIFFICULTIES)).cast("int32") >= DISABILITY_LEVEL
    is_head = (
        (_col(m, "hubungan", "int8") == 1).fill_null(False)
        | (_col(m, "hubungan_siak", "int8") == 1).fill_null(False)
    ).cast("int32")
    m = m.select(
        _k=m[key],
        _mid=m[member_id].cast("string") if member_id else ibis.literal(""),
        _head=is_head,
        umur=umur,
        perempuan=(_col(m, "jenis_kelamin", "int8") == 2).fill_null(False).cast("float64"),
        kawin=(_col(m, "status_kawin", "int8") == 2).fill_null(False).cast("float64"),
        ijazah=ijazah,
        bekerja=_col(m, "bekerja", "boolean").fill_null(False).cast("float64"),
        status=status,
        pertanian=_flag(_col(m, "lapangan_usaha", "int8"), [1, 2, 3, 4, 5, 6, 7]),
        npwp=_col(m, "punya_npwp", "boolean").fill_null(False).cast("float64"),
        usaha_karyawan=(_col(m, "usaha_pekerja_dibayar", "int32") > 0).fill_null(False).cast("float64"),
        jkn_kerja=(_col(m, "jaminan_kesehatan", "int8") == 3).fill_null(False).cast("float64"),
        disabilitas=disabled.fill_null(False).cast("float64"),
        kronis=(_col(m, "penyakit_kronis", "int8") > 0).fill_null(False).cast("float64"),
    )
    order = ibis.window(group_by=m._k, order_by=[ibis.desc(m._head), ibis.desc(m.umur), m._mid])
    ranked = m.mutate(_rn=ibis.row_number().over(order))
    head = ranked.filter(ranked._rn == 0).select(
        _k=ranked._k,
        kepala_perempuan=ranked.perempuan,
        kepala_umur=ranked.umur.cast("float64"),
        kepala_lansia=(ranked.umur >= ELDERLY_AGE).cast("float64"),
        kepala_kawin=ranked.kawin,
        kepala_ijazah=ranked.ijazah.cast("float64"),
        kepala_status_pekerjaan=ranked.status,
        kepala_bekerja=ranked.bekerja,
        kepala_pertanian=ranked.pertanian * ranked.bekerja,
        kepala_pns=_flag(ranked.status, [5]),
        kepala_karyawan=_flag(ranked.status, [4]),
        kepala_pengusaha=_flag(ranked.status, [2, 3]),
        kepala_pekerja_bebas=_flag(ranked.status, [6, 7]),
    )
    agg = m.group_by("_k").aggregate(
        _n=m.count(),
        umur_maks=m.umur.max(),
        jumlah_anak=m.count(where=(m.umur < CHILD_AGE).fill_null(False)),
        jumlah_lansia=m.count(where=(m.umur >= ELDERLY_AGE).fill_null(False)),
        _usia65=m.count(where=(m.umur >= 65).fill_null(False)),
        jumlah_pekerja=m.bekerja.sum(),
        ijazah_maks=m.ijazah.max(),
        ada_pns=_flag(m.status, [5]).max(),
        ada_npwp=m.npwp.max(),
        ada_usaha_berkaryawan=m.usaha_karyawan.max(),
        ada_jkn_pemberi_kerja=m.jkn_kerja.max(),
        ada_disabilitas=m.disabilitas.max(),
        ada_penyakit_kronis=m.kronis.max(),
    )
    f = families
    base = f.select(
        _k=f[key],
        kode_prov=_col(f, "kode_prov", "string"),
        kode_kab=_col(f, "kode_kab", "string"),
        _kode_desa=_col(f, "kode_desa", "string"),
        _perkotaan=_col(f, "perkotaan", "boolean"),
        _jumlah_keluarga=_col(f, "jumlah_anggota", "int32"),
        _kode_kec=_col(f, "kode_kec", "string"),
        **{f"_x_{name}": _col(f, name, "float64") for name in extra},
        status_bangunan=_col(f, "status_bangunan", "int8"),
        luas_lantai=_col(f, "luas_lantai", "float64"),
        lantai=_col(f, "lantai", "int8"),
        dinding=_col(f, "dinding", "int8"),
        atap=_col(f, "atap", "int8"),
        sumber_air_minum=_col(f, "sumber_air_minum", "int8"),
        sumber_penerangan=_col(f, "sumber_penerangan", "int8"),
        daya_listrik=_col(f, "daya_listrik", "int8"),
        bahan_bakar_masak=_col(f, "bahan_bakar_masak", "int8"),
        fasilitas_bab=_col(f, "fasilitas_bab", "int8"),
        pembuangan_tinja=_col(f, "pembuangan_tinja", "int8"),
        **{a: _col(f, a, "boolean") for a in ASSETS},
        **{t: _col(f, t, "int32") for t in LIVESTOCK},
    )
    j = base.left_join(agg, base._k == agg._k).drop("_k_right")
    j = j.left_join(head, j._k == head._k).drop("_k_right")
    # living members found, else the family's own count (a family without member rows), at least 1 for
    # per-capita features; the ranking weight stays the living count (0 when every member has died)
    if size_column:
        weight = j._jumlah_keluarga.cast("int32")
    else:
        weight = ibis.ifelse(j._n.isnull(), j._jumlah_keluarga.fill_null(1), j._n).cast("int32")
    size = ibis.greatest(weight, 1).cast("float64")
    anak = j.jumlah_anak.fill_null(0).cast("float64")
    lansia = j.jumlah_lansia.fill_null(0).cast("float64")
    usia65 = j._usia65.fill_null(0).cast("float64")
    pekerja = j.jumlah_pekerja.fill_null(0).cast("float64")
    working_age = ibis.greatest(size - anak - usia65, 1.0)
    if bps_codes:
        kota = (j.kode_kab.substr(2, 2).try_cast("int32") >= 71).fill_null(False)
        kelurahan = j._kode_desa.substr(6, 1) == "1"
        # the registry has no BPS urban classification: kelurahan and kota stand in for it (docs/welfare.md)
        perkotaan = ibis.coalesce(j._perkotaan, kota | kelurahan, kota)
    else:
        kota = ibis.literal(False)
        perkotaan = j._perkotaan
    asset_flags = {a: j[a].cast("float64") for a in ASSETS}
    livestock = {t: j[t].cast("float64") for t in LIVESTOCK}
    assets_seen = _observed_count([j[a] for a in ASSETS])
    livestock_seen = _observed_count([j[t] for t in LIVESTOCK])
    # no power class is "no PLN meter" (0 VA) when the lighting was observed, unknown only when neither was
    daya = ibis.ifelse(
        j.daya_listrik.isnull() & j.sumber_penerangan.isnull(),
        ibis.null("float64"),
        j.daya_listrik.cast("int32").substitute(DAYA_VA, else_=ibis.literal(0.0)),
    )
    out = j.select(
        **{key: j._k},
        kode_prov=j.kode_prov,
        kode_kab=j.kode_kab,
        jumlah_anggota=weight,
        log_jumlah_anggota=size.ln(),
        porsi_anak=anak / size,
        porsi_lansia=lansia / size,
        rasio_ketergantungan=(anak + usia65) / working_age,
        porsi_pekerja=pekerja / size,
        jumlah_pekerja=pekerja,
        kepala_perempuan=j.kepala_perempuan,
        kepala_umur=j.kepala_umur,
        kepala_lansia=j.kepala_lansia,
        kepala_kawin=j.kepala_kawin,
        kepala_ijazah=j.kepala_ijazah,
        kepala_bekerja=j.kepala_bekerja,
        kepala_pertanian=j.kepala_pertanian,
        kepala_pns=j.kepala_pns,
        kepala_karyawan=j.kepala_karyawan,
        kepala_pengusaha=j.kepala_pengusaha,
        kepala_pekerja_bebas=j.kepala_pekerja_bebas,
        ijazah_maks=j.ijazah_maks.cast("float64"),
        ada_pns=j.ada_pns.fill_null(0.0),
        ada_npwp=j.ada_npwp.fill_null(0.0),
        ada_usaha_berkaryawan=j.ada_usaha_berkaryawan.fill_null(0.0),
        ada_jkn_pemberi_kerja=j.ada_jkn_pemberi_kerja.fill_null(0.0),
        ada_disabilitas=j.ada_disabilitas.fill_null(0.0),
        ada_penyakit_kronis=j.ada_penyakit_kronis.fill_null(0.0),
        rumah_milik=_observed_flag(j.status_bangunan, [1]),
        rumah_sewa=_observed_flag(j.status_bangunan, [2]),
        log_luas_lantai_per_kapita=ibis.ifelse(
            j.luas_lantai.isnull(), ibis.null("float64"), (ibis.greatest(j.luas_lantai, 1.0) / size).ln()
        ),
        lantai_baik=_observed_flag(j.lantai, [1, 2, 3, 4]),
        lantai_tanah_bambu=_observed_flag(j.lantai, [7, 8]),
        dinding_tembok=_observed_flag(j.dinding, [1]),
        dinding_bambu=_observed_flag(j.dinding, [4, 6]),
        atap_baik=_observed_flag(j.atap, [1, 2]),
        atap_jerami_bambu=_observed_flag(j.atap, [5, 7]),
        air_layak=_observed_flag(j.sumber_air_minum, [1, 2, 3, 4, 5, 7]),
        air_kemasan=_observed_flag(j.sumber_air_minum, [1]),
        air_tidak_layak=_observed_flag(j.sumber_air_minum, [6, 8, 9, 10]),
        tanpa_listrik=_observed_flag(j.sumber_penerangan, [4]),
        daya_listrik_va=daya,
        masak_gas_besar=_observed_flag(j.bahan_bakar_masak, [1, 2, 3, 5]),
        masak_kayu_arang=_observed_flag(j.bahan_bakar_masak, [8, 9, 10]),
        bab_sendiri=_observed_flag(j.fasilitas_bab, [1]),
        bab_tidak_ada=_observed_flag(j.fasilitas_bab, [5, 6]),
        tinja_septik=_observed_flag(j.pembuangan_tinja, [1, 2], parent=j.fasilitas_bab),
        **asset_flags,
        # the count of assets only when every asset item was asked: "owns 0 of 18" must not be said of a
        # family whose only asset record is a vehicle-registry "no car"
        jumlah_aset=ibis.ifelse(
            assets_seen == len(ASSETS),
            sum((v.fill_null(0.0) for v in asset_flags.values()), ibis.literal(0.0)),
            ibis.null("float64"),
        ),
        **{f"log_{t}": v.ln1p() if hasattr(v, "ln1p") else (v + 1.0).ln() for t, v in livestock.items()},
        prov=j.kode_prov.try_cast("int64").cast("float64"),
        kab=j.kode_kab.try_cast("int64").cast("float64"),
        kec=j._kode_kec.try_cast("int64").cast("float64"),
        desa=j._kode_desa.try_cast("int64").cast("float64"),
        perkotaan=perkotaan.cast("float64"),
        kota=kota.cast("float64"),
        # raw answers for the explanations
        lantai=j.lantai,
        dinding=j.dinding,
        atap=j.atap,
        sumber_air_minum=j.sumber_air_minum,
        sumber_penerangan=j.sumber_penerangan,
        daya_listrik=j.daya_listrik,
        bahan_bakar_masak=j.bahan_bakar_masak,
        fasilitas_bab=j.fasilitas_bab,
        kepala_status_pekerjaan=j.kepala_status_pekerjaan,
        jumlah_ternak=ibis.ifelse(
            livestock_seen > 0,
            sum((v.fill_null(0.0) for v in livestock.values()), ibis.literal(0.0)),
            ibis.null("float64"),
        ),
        jumlah_anak=anak,
        jumlah_lansia=lansia,
        # what was observed: the ranking status refuses a family with no field observation at all
        item_survei_teramati=_observed_count([j[c] for c in SURVEY_ITEMS]),
        item_administratif_teramati=_observed_count([j[c] for c in ADMIN_ITEMS]),
        umur_maks=j.umur_maks.cast("int32"),
        **{name: j[f"_x_{name}"] for name in extra},
    )
    return out.order_by(key)
