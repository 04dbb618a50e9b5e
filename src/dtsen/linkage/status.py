"""Status of each golden person against Dukcapil, with the evidence that decided it (bukti_status).

Precedence (first that holds): meninggal (register death, or a field visit recording a death); NIK ganda
(the register holds the NIK more than once); for people not in the register: NIK tidak valid (every
record's NIK invalid), else tidak padan; tidak ditemukan (the latest field visit did not find them);
pindah (moved: the latest field visit says so, or its kecamatan differs from the register's); anggota
baru (in the register, in no field source, but in a family a field source saw); padan.

The published ``nik`` is a NIK this person holds, never one the register assigns to somebody else: a
person the register does not know whose reported NIK is a register NIK (linkage refused to merge them:
a sibling's or parent's NIK borrowed on a DTKS form) or a NIK two such persons both claim publishes no
NIK; the reported value stays in ``nik_dilaporkan`` as evidence and ``bukti_status`` says why
(``nik_milik_orang_lain``, ``nik_diklaim_ganda``). A beneficiary list then never names a person by
another's NIK, and an event on that NIK reaches its owner.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from dtsen.canonical.model import StatusPadan
from dtsen.reference.codes import Keberadaan

# the evidence columns the rules read (consolidate._evidence writes them, among others)
EVIDENCE = (
    "ada_lapangan",
    "sumber_lapangan",
    "keberadaan_lapangan",
    "kec_lapangan",
    "nik_ada",
    "nik_tidak_valid",
    "sumber_nik",
)


def person_status(persons: ir.Table, evidence: ir.Table, ganda_niks: ir.Table, spine_source: str) -> ir.Table:
    """``persons`` (id_dtsen, nik, no_kk, status_hidup, tanggal_meninggal, di_dukcapil, kode_kec, ...)
    with status_padan, bukti_status and nik_dilaporkan: one engine query, so no national table reaches
    the driver.

    ``evidence`` per id_dtsen: ada_lapangan (a field record), sumber_lapangan, keberadaan_lapangan and
    kec_lapangan (of the latest field record), nik_ada (any record with a valid NIK), nik_tidak_valid
    (any record with an invalid one), sumber_nik (sources of those records). ``ganda_niks``: the
    register's NIKs held more than once (column ``nik``).
    """
    ev = evidence.select(_id="id_dtsen", **{c: evidence[c] for c in EVIDENCE})
    j = persons.left_join(ev, persons.id_dtsen == ev._id)
    p = j.select(*persons.columns, *EVIDENCE[1:], ada_lapangan=j.ada_lapangan.fill_null(False))
    known = p.filter(p.no_kk.notnull())
    seen = known.group_by(_kk=known.no_kk).aggregate(keluarga_terlihat=known.ada_lapangan.any())
    j = p.left_join(seen, p.no_kk == seen._kk)
    p = j.select(*p.columns, "keluarga_terlihat")
    ganda = ganda_niks.select(_nik_ganda="nik").distinct()
    j = p.left_join(ganda, p.nik == ganda._nik_ganda)
    p = j.select(*p.columns, ganda=j._nik_ganda.notnull())
    dead = (p.status_hidup == False) | p.tanggal_meninggal.notnull()  # noqa: E712
    field_dead = p.keberadaan_lapangan == int(Keberadaan.MENINGGAL)
    moved_code = p.keberadaan_lapangan.isin(
        [int(Keberadaan.PINDAH_DALAM_NEGERI), int(Keberadaan.PINDAH_LUAR_NEGERI)]
    )
    moved_kec = p.di_dukcapil & p.kec_lapangan.notnull() & (p.kec_lapangan != p.kode_kec)
    src = p.sumber_lapangan.fill_null("")
    rules: list[tuple[ir.BooleanValue, StatusPadan, ir.StringValue]] = [
        (p.di_dukcapil & dead, StatusPadan.MENINGGAL, ibis.literal(f"{spine_source}:status_hidup")),
        (field_dead, StatusPadan.MENINGGAL, src.concat(":keberadaan=meninggal")),
        (p.ganda & p.di_dukcapil, StatusPadan.NIK_GANDA, ibis.literal(f"{spine_source}:nik_ganda")),
        (
            ~p.di_dukcapil & ~p.nik_ada.fill_null(False) & p.nik_tidak_valid.fill_null(False),
            StatusPadan.NIK_TIDAK_VALID,
            p.sumber_nik.fill_null("").concat(":nik_tidak_valid"),
        ),
        (
            ~p.di_dukcapil,
            StatusPadan.TIDAK_PADAN,
            p.sumber_nik.fill_null(src).concat(f":tidak_ada_di_{spine_source}"),
        ),
        (
            p.keberadaan_lapangan == int(Keberadaan.TIDAK_DITEMUKAN),
            StatusPadan.TIDAK_DITEMUKAN,
            src.concat(":keberadaan=tidak_ditemukan"),
        ),
        (moved_code, StatusPadan.PINDAH, src.concat(":keberadaan=pindah")),
        (moved_kec, StatusPadan.PINDAH, src.concat(f":kode_kec_beda_{spine_source}")),
        (
            p.keberadaan_lapangan == int(Keberadaan.ANGGOTA_BARU),
            StatusPadan.ANGGOTA_BARU,
            src.concat(":keberadaan=anggota_baru"),
        ),
        (
            ~p.ada_lapangan & p.keluarga_terlihat.fill_null(False),
            StatusPadan.ANGGOTA_BARU,
            ibis.literal(f"{spine_source}:anggota_baru_di_kk"),
        ),
    ]
    # the first rule that holds decides (a null condition does not hold)
    status = ibis.cases(
        *[(cond.fill_null(False), ibis.literal(int(code), "int8")) for cond, code, _ in rules],
        else_=ibis.literal(int(StatusPadan.PADAN), "int8"),
    )
    bukti = ibis.cases(
        *[(cond.fill_null(False), why) for cond, _, why in rules],
        else_=ibis.literal(f"{spine_source}:nik+nama+tanggal_lahir"),
    )
    p = p.select(*persons.columns, status_padan=status, bukti_status=bukti)
    return _withhold_foreign_nik(p, persons)


NIK_MILIK_ORANG_LAIN = "nik_milik_orang_lain"  # the register gives this NIK to another id_dtsen
NIK_DIKLAIM_GANDA = "nik_diklaim_ganda"  # two persons outside the register report the same NIK


def _withhold_foreign_nik(p: ir.Table, persons: ir.Table) -> ir.Table:
    """``nik`` null and ``nik_dilaporkan`` set where the NIK is not this person's to publish (module doc).
    A NIK the register holds twice (NIK ganda) stays: that is the register's own finding, flagged by
    status. Who holds which NIK is read from ``persons`` (the same NIKs as ``p``), not from the status
    query, which the engine would otherwise evaluate again for each."""
    outside = ~persons.di_dukcapil.fill_null(False)
    register = persons.filter(~outside & persons.nik.notnull()).select(_nik_register="nik").distinct()
    claimed = persons.filter(outside & persons.nik.notnull())
    claims = claimed.group_by(_nik_claimed=claimed.nik).aggregate(_n=claimed.count())
    j = p.left_join(register, p.nik == register._nik_register)
    j = j.select(*p.columns, "_nik_register")
    j = j.left_join(claims, j.nik == claims._nik_claimed)
    outside = ~j.di_dukcapil.fill_null(False)
    reason = ibis.cases(
        (outside & j._nik_register.notnull(), NIK_MILIK_ORANG_LAIN),
        (outside & (j._n > 1), NIK_DIKLAIM_GANDA),
        else_=ibis.null("string"),
    )
    j = j.select(*p.columns, _alasan=reason)
    held = j._alasan.notnull()
    return j.mutate(
        nik=ibis.ifelse(held, ibis.null("string"), j.nik),
        nik_dilaporkan=ibis.ifelse(held, j.nik, ibis.null("string")),
        bukti_status=ibis.ifelse(held, j.bukti_status.concat(";", j._alasan), j.bukti_status),
    ).drop("_alasan")
