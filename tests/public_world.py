"""Helpers shared by the public-page tests (imported by tests/test_public_*.py; not a pytest plugin).

A tiny served world on the test database: four regions of Kota Yogyakarta plus one desa elsewhere, a
current snapshot and an older one, two families and their people; then the real app on that database
with a cheap challenge (10 bits) and uploads in a temporary folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from dtsen.api import challenge
from dtsen.store.intake import RateLimitCounter
from dtsen.store.models import Region
from dtsen.store.served import ServedEligibility, ServedFamily, ServedPerson, ServedSnapshot

DIFFICULTY = 10
DESA = "3471011001"
OTHER_DESA = "3404012001"


@dataclass(frozen=True)
class Person:
    nik: str
    nama: str
    tanggal_lahir: date
    no_kk: str
    kode_desa: str


# NIKs follow the real layout (kecamatan 347101, birth date, serial) so the NIK checks accept them.
SITI = Person("3471015505800001", "SITI AMINAH", date(1980, 5, 15), "3471010101100001", DESA)
BUDI = Person("3471011203750002", "BUDI SANTOSO", date(1975, 3, 12), "3471010101100002", DESA)
# Only in the older snapshot: "outside the data" for Cek Status today.
LAMA = Person("3471010707600003", "JOKO LAMA", date(1960, 7, 7), "3471010101100003", DESA)
# In a family the model could not rank (no household observation).
RINA = Person("3471016101950004", "RINA WATI", date(1995, 1, 21), "3471010101100004", DESA)
UNKNOWN_NIK = "3471012008900009"

REGIONS = [
    Region(kode="34", nama="DI YOGYAKARTA", level="provinsi", kode_prov="34"),
    Region(kode="3471", nama="KOTA YOGYAKARTA", level="kabupaten", kode_prov="34", kode_kab="3471"),
    Region(kode="3404", nama="SLEMAN", level="kabupaten", kode_prov="34", kode_kab="3404"),
    Region(
        kode="347101",
        nama="MANTRIJERON",
        level="kecamatan",
        kode_prov="34",
        kode_kab="3471",
        kode_kec="347101",
    ),
    Region(
        kode="340401", nama="GAMPING", level="kecamatan", kode_prov="34", kode_kab="3404", kode_kec="340401"
    ),
    Region(kode=DESA, nama="GEDONGKIWO", level="desa", kode_prov="34", kode_kab="3471", kode_kec="347101"),
    Region(
        kode=OTHER_DESA,
        nama="AMBARKETAWANG",
        level="desa",
        kode_prov="34",
        kode_kab="3404",
        kode_kec="340401",
    ),
]


def _codes(kode_desa: str) -> dict[str, str]:
    return {
        "kode_prov": kode_desa[:2],
        "kode_kab": kode_desa[:4],
        "kode_kec": kode_desa[:6],
        "kode_desa": kode_desa,
    }


def seed(engine: Engine) -> None:
    """Regions and two served snapshots (2026Q1 old, 2026Q2 current) on a migrated database."""
    now = datetime(2026, 7, 1, tzinfo=UTC)
    with Session(engine) as session:
        session.add_all(
            [
                Region(
                    **{
                        c: getattr(r, c)
                        for c in ("kode", "nama", "level", "kode_prov", "kode_kab", "kode_kec")
                    }
                )
                for r in REGIONS
            ]
        )
        for snapshot_id, periode, current in ((1, "2026Q1", False), (2, "2026Q2", True)):
            session.add(
                ServedSnapshot(
                    id=snapshot_id,
                    periode=periode,
                    versi=1,
                    ref=f"{periode}/v1",
                    manifest_sha256="0" * 64,
                    created_at=now,
                    loaded_at=now,
                    status="ready",
                    is_current=current,
                    programs={"pkh": "Program Keluarga Harapan", "bpnt": "Bantuan Pangan Non Tunai"},
                )
            )
        session.flush()
        families = [
            (
                "K1",
                SITI,
                2,
                0.95,
                [
                    {
                        "faktor": "lantai",
                        "kontribusi": -0.3,
                        "kalimat": "Lantai tanah menurunkan perkiraan pengeluaran sekitar 25%.",
                    },
                    {
                        "faktor": "jumlah_aset",
                        "kontribusi": -0.2,
                        "kalimat": (
                            "Memiliki 1 dari 18 jenis aset menurunkan perkiraan pengeluaran sekitar 18%."
                        ),
                    },
                ],
            ),
            ("K2", BUDI, 7, 0.02, []),
        ]
        for snapshot_id in (1, 2):
            for family_id, head, desil, p_le4, explanation in families:
                session.add(
                    ServedFamily(
                        snapshot_id=snapshot_id,
                        id_keluarga_dtsen=family_id,
                        no_kk=head.no_kk,
                        id_kepala=f"P-{head.nik[-4:]}",
                        jumlah_anggota=1,
                        desil_nasional=desil,
                        desil_provinsi=desil,
                        desil_kabkota=desil,
                        p_desil_le4=p_le4,
                        p_desil_le5=p_le4,
                        borderline=False,
                        penjelasan=explanation,
                        status_peringkat="diperingkat",
                        **_codes(head.kode_desa),
                    )
                )
                session.add(
                    ServedPerson(
                        snapshot_id=snapshot_id,
                        id_dtsen=f"P-{head.nik[-4:]}",
                        id_keluarga_dtsen=family_id,
                        nik=head.nik,
                        no_kk=head.no_kk,
                        nama=head.nama,
                        nama_norm=head.nama,
                        tanggal_lahir=head.tanggal_lahir,
                        status_hidup=True,
                        **_codes(head.kode_desa),
                    )
                )
            session.add(
                ServedEligibility(
                    snapshot_id=snapshot_id,
                    id_keluarga_dtsen="K1",
                    program="pkh",
                    layak=True,
                    jumlah_penerima=1,
                    nilai_tahunan=3_000_000,
                    **_codes(DESA),
                )
            )
        session.add(
            ServedFamily(
                snapshot_id=1, id_keluarga_dtsen="K3", no_kk=LAMA.no_kk, desil_nasional=3, **_codes(DESA)
            )
        )
        session.add(
            ServedPerson(
                snapshot_id=1,
                id_dtsen="P-0003",
                id_keluarga_dtsen="K3",
                nik=LAMA.nik,
                no_kk=LAMA.no_kk,
                nama=LAMA.nama,
                nama_norm=LAMA.nama,
                tanggal_lahir=LAMA.tanggal_lahir,
                **_codes(DESA),
            )
        )
        session.add(
            ServedFamily(
                snapshot_id=2,
                id_keluarga_dtsen="K4",
                no_kk=RINA.no_kk,
                status_peringkat="tidak_diperingkat",
                alasan_tidak_diperingkat="tanpa_observasi",
                **_codes(DESA),
            )
        )
        session.add(
            ServedPerson(
                snapshot_id=2,
                id_dtsen="P-0004",
                id_keluarga_dtsen="K4",
                nik=RINA.nik,
                no_kk=RINA.no_kk,
                nama=RINA.nama,
                nama_norm=RINA.nama,
                tanggal_lahir=RINA.tanggal_lahir,
                **_codes(DESA),
            )
        )
        session.commit()


def make_app(db_url: str, upload_dir: Path) -> Any:
    from dtsen.api.app import create_app

    app = create_app(db_url)
    app.state.challenge_settings = challenge.ChallengeSettings(DIFFICULTY, 600)
    app.state.upload_dir = upload_dir
    return app


def client_for(app: Any, ip: str) -> TestClient:
    return TestClient(app, client=(ip, 50000), follow_redirects=False)


def reset_limits(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(delete(RateLimitCounter))


_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)"')


def form_fields(client: TestClient, path: str, *, solve: bool = True) -> dict[str, str]:
    """The hidden fields of the form on ``path`` (CSRF token, challenge, idempotency key), solved."""
    page = client.get(path)
    assert page.status_code == 200, page.text[:500]
    fields = dict(_HIDDEN.findall(page.text))
    fields.pop("tantangan_bit", None)
    if solve and "tantangan_token" in fields:
        fields["tantangan_nonce"] = challenge.solve(fields["tantangan_token"], DIFFICULTY)
    fields.pop("soal_token", None)
    return fields


def hasil(html: str) -> str | None:
    found = re.search(r'data-hasil="(\w+)"', html)
    return found.group(1) if found else None


_VOLATILE = [
    re.compile(r'(name="(?:csrf_token|tantangan_token|soal_token|kunci)" value=")[^"]*"'),
    re.compile(r"(Pertanyaan keamanan: berapa )[a-z ]+\?"),
]


def stable(html: str) -> str:
    """The page without its per-request tokens and question, for comparing two answers byte for byte."""
    for pattern in _VOLATILE:
        html = pattern.sub(r"\1…", html)
    return html
