"""Extracts for an approved access request, produced by DuckDB from the served snapshot's Parquet files.

One SQL query per extract over ``families``, ``persons``, ``scores`` and ``eligibility`` of the snapshot the
registry currently serves (never row by row in Python), limited to the request's regions, written by DuckDB
``COPY`` (CSV, Parquet) or streamed in batches into a write-only workbook (XLSX).

* **aggregate**: families and persons per region and national desil, and per approved program the
  eligible families and their yearly value. A count below ``k`` (the request's, default 10) is a small
  cell: such a row publishes no count or sum at all (null, ``disensor`` true), and a program count of 1
  to k-1 is nulled with its sum. No totals or margins are published, so a suppressed cell cannot be
  recovered by differencing within one extract.
* **deidentified**: one row per person with the approved (non-identifying) fields; NIK, KK and the family
  id replaced by tokens, the birth date generalised to its year. A token is ``sha256(salt || value)``
  with ``salt = HMAC-SHA256(deployment secret, "akses:" + request number)``, computed in DuckDB (which has
  no HMAC). For linkage protection this is what a per-request HMAC gives: the salt is secret (the
  deployment secret never leaves the server, the salt is never written), differs per request, and is
  unforgeable without the secret, so tokens of two requests differ for the same person and neither the
  agency nor anyone holding both extracts can join them or test a guessed NIK. HMAC's extra guarantee
  (no length extension) concerns attackers who know a MAC and extend the message, which a fixed-form
  token of a secret-prefixed value does not expose. A request approved with a link (``tautan``) to an
  earlier one of the same agency uses that request's salt, so only approved linkage is possible.
* **byname**: exactly the approved fields (plus one eligibility column per approved program).

Every extract is one audit entry (with its row count), stored content-addressed under
``data_dir/extracts`` and listed per request; every download is audited and counted.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dtsen.atomic import commit_file, sha256_file
from dtsen.auth.scope import Principal
from dtsen.sharing import requests as service
from dtsen.sharing import review
from dtsen.sql import quote_literal
from dtsen.store import audit
from dtsen.store.served import ServedSnapshot
from dtsen.store.sharing import FORMATS, AccessExtract, AccessRequest
from dtsen.web.i18n import N_
from dtsen.workflows.cases import CaseError, CaseInvalidError, CaseStateError

REGION_LEVELS = {"kab": "kode_kab", "kec": "kode_kec", "desa": "kode_desa"}
XLSX_BATCH = 10_000
MEDIA_TYPES = {
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_HEX_RE = re.compile(r"^[0-9a-f]{64}$")


class ExtractNotFoundError(CaseError):
    status = 404

    def __init__(self) -> None:
        super().__init__(N_("Berkas ekstrak tidak ditemukan."))


@dataclass(frozen=True)
class Source:
    """The served snapshot's files an extract reads."""

    ref: str
    files: dict[str, Path]


def extracts_root(data_dir: Path) -> Path:
    return data_dir / "extracts"


def served_source(session: Session, data_dir: Path) -> Source:
    """The Parquet files of the snapshot the registry serves now (409 if none is served)."""
    from dtsen.cycle.snapshot import SnapshotError, open_snapshot

    ref = session.scalar(select(ServedSnapshot.ref).where(ServedSnapshot.is_current))
    if ref is None:
        raise CaseStateError(N_("Belum ada data yang dilayani: ekstrak belum dapat dibuat."))
    try:
        snap = open_snapshot(ref, data_dir)
        files = {
            name: snap.file(f"{name}.parquet") for name in ("families", "persons", "scores", "eligibility")
        }
    except SnapshotError:
        raise CaseStateError(
            N_("Berkas data yang dilayani tidak ditemukan: hubungi administrator.")
        ) from None
    return Source(ref, files)


def token_salt(secret: str, nomor: str) -> str:
    """The per-request salt of de-identification tokens (see the module docstring)."""
    return hmac.new(secret.encode("utf-8"), f"akses:{nomor}".encode(), hashlib.sha256).hexdigest()


def _region_filter(alias: str, regions: list[str]) -> str:
    # Codes are checked digits (2/4/6/10) when filed; every level is a prefix of the village code.
    clauses = [f"starts_with({alias}.kode_desa, '{code}')" for code in regions if code.isdigit()]
    return "(" + " OR ".join(clauses) + ")" if clauses else "FALSE"


def _programs(programs: list[str]) -> str:
    """Per family, whether it is eligible for each approved program and the yearly value."""
    if not programs:
        return "SELECT DISTINCT id_keluarga_dtsen FROM eligibility WHERE FALSE"
    columns = ", ".join(
        f"bool_or(layak) FILTER (WHERE program = '{code}') AS layak_{code}, "
        f"sum(CASE WHEN layak THEN nilai_tahunan END) FILTER (WHERE program = '{code}') AS nilai_{code}"
        for code in programs
    )
    return f"SELECT id_keluarga_dtsen, {columns} FROM eligibility GROUP BY id_keluarga_dtsen"  # noqa: S608


def aggregate_sql(req: AccessRequest, region_level: str) -> str:
    column = REGION_LEVELS[region_level]
    k = int(req.k_min)
    programs = [code for code in req.programs or [] if code.isidentifier()]
    inner = [
        f"f.{column} AS kode_wilayah",
        "s.desil_nasional AS desil",
        "count(*) AS jumlah_keluarga",
        "sum(f.jumlah_anggota) AS jumlah_jiwa",
    ]
    outer = ["kode_wilayah", "desil"]
    small = [f"jumlah_keluarga < {k}"]
    for code in programs:
        inner += [
            f"count(*) FILTER (WHERE e.layak_{code}) AS penerima_{code}",
            f"sum(e.nilai_{code}) AS nilai_{code}",
        ]
        small.append(f"(penerima_{code} > 0 AND penerima_{code} < {k})")
    row_small = f"jumlah_keluarga < {k}"
    outer += [
        f"CASE WHEN {row_small} THEN NULL ELSE jumlah_keluarga END AS jumlah_keluarga",
        f"CASE WHEN {row_small} THEN NULL ELSE jumlah_jiwa END AS jumlah_jiwa",
    ]
    for code in programs:
        cell_small = f"{row_small} OR (penerima_{code} > 0 AND penerima_{code} < {k})"
        outer += [
            f"CASE WHEN {cell_small} THEN NULL ELSE penerima_{code} END AS penerima_{code}",
            f"CASE WHEN {cell_small} THEN NULL ELSE nilai_{code} END AS nilai_{code}",
        ]
    outer.append(f"({' OR '.join(small)}) AS disensor")
    return (
        f"SELECT {', '.join(outer)} FROM (SELECT {', '.join(inner)} FROM families f "  # noqa: S608
        "LEFT JOIN scores s USING (id_keluarga_dtsen) "
        f"LEFT JOIN ({_programs(programs)}) e USING (id_keluarga_dtsen) "
        f"WHERE {_region_filter('f', list(req.regions or []))} GROUP BY ALL) "
        "ORDER BY kode_wilayah, desil NULLS LAST"
    )


PERSON_EXPRESSIONS = {
    "jumlah_anggota": "f.jumlah_anggota",
    "desil_nasional": "s.desil_nasional",
    "desil_kabkota": "s.desil_kabkota",
}


def person_sql(req: AccessRequest, salt: str | None) -> str:
    """By-name (``salt`` None: the approved fields only) or de-identified (tokens and birth year first)."""
    columns: list[str] = []
    if salt is not None:
        if not _HEX_RE.match(salt):
            raise ValueError("salt must be a hex digest")
        columns += [
            f"sha256('{salt}' || p.nik) AS token_nik",
            f"sha256('{salt}' || p.no_kk) AS token_kk",
            f"sha256('{salt}' || p.id_keluarga_dtsen) AS token_keluarga",
            "year(p.tanggal_lahir) AS tahun_lahir",
        ]
    for name in req.fields or []:
        if name not in service.FIELDS or (salt is not None and name in service.DIRECT_IDENTIFIERS):
            continue
        columns.append(f"{PERSON_EXPRESSIONS.get(name, 'p.' + name)} AS {name}")
    programs = [code for code in req.programs or [] if code.isidentifier()]
    columns += [f"coalesce(e.layak_{code}, FALSE) AS layak_{code}" for code in programs]
    order = "token_nik" if salt is not None else "p.id_dtsen"
    return (
        f"SELECT {', '.join(columns)} FROM persons p "  # noqa: S608
        "LEFT JOIN families f USING (id_keluarga_dtsen) LEFT JOIN scores s USING (id_keluarga_dtsen) "
        f"LEFT JOIN ({_programs(programs)}) e USING (id_keluarga_dtsen) "
        f"WHERE {_region_filter('p', list(req.regions or []))} ORDER BY {order}"
    )


def _salt_of(req: AccessRequest, secret: str) -> str:
    return token_salt(secret, req.tautan or req.nomor)


def _write(query: str, source: Source, fmt: str, target: Path) -> int:
    """Run ``query`` in DuckDB over the snapshot's files and write it to ``target``; the row count."""
    import duckdb

    con = duckdb.connect()
    try:
        for name, path in source.files.items():
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({quote_literal(path)})")  # noqa: S608
        if fmt in ("csv", "parquet"):
            options = "FORMAT csv, HEADER true" if fmt == "csv" else "FORMAT parquet, COMPRESSION zstd"
            result = con.execute(f"COPY ({query}) TO {quote_literal(target)} ({options})").fetchone()
            return int(result[0]) if result else 0
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("data")
        cursor = con.execute(query)
        sheet.append([column[0] for column in cursor.description or []])
        rows = 0
        while batch := cursor.fetchmany(XLSX_BATCH):
            for record in batch:
                sheet.append(list(record))
            rows += len(batch)
        book.save(target)
        return rows
    finally:
        con.close()


def _store(temporary: Path, root: Path) -> tuple[str, str]:
    """Move a written file to its content address; (sha256, path relative to root)."""
    sha = sha256_file(temporary)
    relative = f"{sha[:2]}/{sha[2:4]}/{sha}"
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(temporary, 0o640)
    commit_file(temporary, target)
    return sha, relative


def create_extract(
    session: Session,
    principal: Principal,
    request_id: int,
    fmt: str,
    *,
    data_dir: Path,
    root: Path,
    secret: str,
    region_level: str = "kec",
    now: datetime | None = None,
) -> AccessExtract:
    """Produce one extract of an approved, valid request from the served snapshot; one audit entry."""
    req = service.get_request(session, principal, request_id, purpose="ekstrak_akses", audited=False)
    if fmt not in FORMATS:
        raise CaseInvalidError({"format": (N_("Pilih format: CSV, Parquet atau XLSX."), {})})
    if region_level not in REGION_LEVELS:
        raise CaseInvalidError({"wilayah": (N_("Pilih tingkat wilayah: kab, kec atau desa."), {})})
    review.check_usable(session, principal, req, "ekstrak_akses", now)
    source = served_source(session, data_dir)
    if req.level == "aggregate":
        query = aggregate_sql(req, region_level)
    else:
        query = person_sql(req, _salt_of(req, secret) if req.level == "deidentified" else None)
    session.commit()  # nothing held while DuckDB works
    root.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=root, prefix=".extract-", suffix=f".{fmt}")
    os.close(fd)
    temporary = Path(name)
    try:
        temporary.unlink()  # DuckDB's COPY and openpyxl create the file themselves
        rows = _write(query, source, fmt, temporary)
        sha, relative = _store(temporary, root)
    finally:
        temporary.unlink(missing_ok=True)
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    extract = AccessExtract(
        request_id=req.id,
        format=fmt,
        level=req.level,
        snapshot_ref=source.ref,
        rows=rows,
        sha256=sha,
        path=relative,
        created_at=moment,
        created_by=principal.name,
        downloads=0,
    )
    with session.begin_nested():
        session.add(extract)
        session.flush()
        audit.record(
            session,
            **principal.audit_fields(),
            action="export",
            resource="access_extract",
            purpose="ekstrak_akses",
            occurred_at=moment,
            detail={
                "nomor": req.nomor,
                "extract": extract.id,
                "level": req.level,
                "format": fmt,
                "rows": rows,
                "snapshot": source.ref,
                "sha256": sha,
            },
        )
    return extract


def list_extracts(session: Session, request_id: int) -> list[AccessExtract]:
    return list(
        session.scalars(
            select(AccessExtract)
            .where(AccessExtract.request_id == request_id)
            .order_by(AccessExtract.id.desc())
        )
    )


def download(
    session: Session,
    principal: Principal,
    request_id: int,
    extract_id: int,
    *,
    root: Path,
    now: datetime | None = None,
) -> tuple[AccessRequest, AccessExtract, Path]:
    """The file of one extract, if the request is still approved and valid (else 410/403, audited, and
    nothing counted); the download audited and counted."""
    req = service.get_request(session, principal, request_id, purpose="unduh_ekstrak", audited=False)
    extract = session.get(AccessExtract, extract_id)
    if extract is None or extract.request_id != req.id:
        raise ExtractNotFoundError
    review.check_usable(session, principal, req, "unduh_ekstrak", now)
    path = root / extract.path
    if not path.is_file():
        raise ExtractNotFoundError
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    with session.begin_nested():
        session.execute(
            update(AccessExtract)
            .where(AccessExtract.id == extract.id)
            .values(downloads=AccessExtract.downloads + 1, last_download_at=moment)
        )
        audit.record(
            session,
            **principal.audit_fields(),
            action="download",
            resource="access_extract",
            purpose="unduh_ekstrak",
            occurred_at=moment,
            detail={
                "nomor": req.nomor,
                "extract": extract.id,
                "rows": extract.rows,
                "sha256": extract.sha256,
            },
        )
    session.refresh(extract)
    return req, extract, path


def describe(extract: AccessExtract) -> dict[str, Any]:
    return {
        "id": extract.id,
        "format": extract.format,
        "level": extract.level,
        "snapshot": extract.snapshot_ref,
        "rows": extract.rows,
        "sha256": extract.sha256,
        "created_at": extract.created_at.isoformat(),
        "created_by": extract.created_by,
        "downloads": extract.downloads,
        "last_download_at": extract.last_download_at.isoformat() if extract.last_download_at else None,
    }
