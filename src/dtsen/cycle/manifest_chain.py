"""Snapshot manifests chained by hash, so an edited manifest.json is detected.

A file's checksum in a manifest proves the file, but nothing proved the manifest: edit a row count and a
checksum together and ``verify`` agreed. Now each manifest records ``previous_manifest``, the reference
and SHA-256 of the manifest published before it (``null`` for the first of a data dir), and
``snapshots/CHAIN_HEAD`` names the newest one with its SHA-256. The head is also appended to the audit log
(action ``snapshot.publish``) when a serving database is configured, which pins it outside the data dir:
someone able to rewrite every manifest and the head file still cannot rewrite the audit chain unnoticed.

A manifest is vouched for by its successor's link, or by the head if it is the newest; a manifest
published before chaining (no ``previous_manifest`` key) is reported as unchained, not as broken, and the
next publish links to it, so the chain starts there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dtsen import atomic
from dtsen.atomic import sha256_file
from dtsen.logs import get_logger

if TYPE_CHECKING:
    from dtsen.cycle.snapshot import Snapshot

log = get_logger(__name__)

FIELD = "previous_manifest"
HEAD = "CHAIN_HEAD"
AUDIT_ACTION = "snapshot.publish"
UNCHAINED = "published before manifests were chained: no previous_manifest, so it is not itself chained"


def manifest_sha256(snapshot: Snapshot) -> str:
    from dtsen.cycle.snapshot import MANIFEST

    return sha256_file(snapshot.path / MANIFEST)


def read_head(root: Path) -> dict[str, Any] | None:
    """``{"ref", "manifest_sha256"}`` of the newest published manifest, or None before the first."""
    try:
        return json.loads((root / HEAD).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{root / HEAD}: unreadable chain head ({exc})") from exc


def link_to_previous(root: Path) -> dict[str, Any] | None:
    """What the next manifest records as ``previous_manifest`` (call under the publish lock): the head;
    in a data dir published before chaining, the newest snapshot by publication time; else None."""
    head = read_head(root)
    if head is not None:
        return {"ref": head["ref"], "manifest_sha256": head["manifest_sha256"]}
    from dtsen.cycle.snapshot import list_snapshots

    snaps = list_snapshots(root.parent)
    if not snaps:
        return None
    newest = max(snaps, key=lambda s: (str(s.manifest.get("created_at", "")), s.period, s.version))
    return {"ref": newest.ref, "manifest_sha256": manifest_sha256(newest)}


def record_head(snapshot: Snapshot, root: Path) -> dict[str, Any]:
    """Make ``snapshot`` the chain head (atomic file under the publish lock) and audit it; returns it."""
    head = {"ref": snapshot.ref, "manifest_sha256": manifest_sha256(snapshot)}
    atomic.write_text(root / HEAD, json.dumps(head, sort_keys=True) + "\n")
    _audit(head, snapshot.manifest.get(FIELD))
    return head


def _audit(head: dict[str, Any], previous: dict[str, Any] | None) -> None:
    """Append the head to the audit log of the configured serving database; a failure is logged, never
    raised (the snapshot is published; the head file keeps the link)."""
    from dtsen.config import get_settings

    url = get_settings().database_url
    if not url:
        return
    try:
        from sqlalchemy.orm import Session

        from dtsen.store import audit
        from dtsen.store.db import make_engine

        engine = make_engine(url)
        try:
            with Session(engine) as session:
                detail = {
                    "snapshot": head["ref"],
                    "manifest_sha256": head["manifest_sha256"],
                    "previous_manifest_sha256": (previous or {}).get("manifest_sha256"),
                }
                audit.record(
                    session,
                    actor="dtsen-cycle",
                    actor_role="system",
                    action=AUDIT_ACTION,
                    resource="snapshot",
                    detail=detail,
                )
                session.commit()
        finally:
            engine.dispose()
    except Exception as exc:  # the publish stands; verify reports a head missing from the audit log
        log.error(
            "snapshot chain head not written to the audit log", snapshot=head["ref"], error=str(exc)[:300]
        )


def audited_head(url: str) -> dict[str, Any] | None:
    """The newest chain head in the audit log of ``url`` (None if none was audited)."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from dtsen.store.db import make_engine
    from dtsen.store.models import AuditLog

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            detail = session.execute(
                select(AuditLog.detail)
                .where(AuditLog.action == AUDIT_ACTION)
                .order_by(AuditLog.id.desc())
                .limit(1)
            ).scalar_one_or_none()
    finally:
        engine.dispose()
    if detail is None:
        return None
    return {"ref": detail["snapshot"], "manifest_sha256": detail["manifest_sha256"]}


def _vouchers(snaps: list[Snapshot]) -> dict[str, list[tuple[str, str]]]:
    """ref -> [(who, recorded sha256)] from every manifest's link to its predecessor."""
    out: dict[str, list[tuple[str, str]]] = {}
    for s in snaps:
        link = s.manifest.get(FIELD)
        if isinstance(link, dict) and link.get("ref"):
            out.setdefault(link["ref"], []).append(
                (f"{s.ref}'s previous_manifest", link.get("manifest_sha256"))
            )
    return out


def verify_manifest(snapshot: Snapshot, root: Path) -> tuple[list[str], list[str]]:
    """(problems, notes) about ``snapshot``'s manifest: its SHA-256 against its successor's link or the
    chain head, and its own link to the previous manifest. Notes do not fail a verify."""
    from dtsen.cycle.snapshot import list_snapshots

    snaps = list_snapshots(root.parent)
    by_ref = {s.ref: s for s in snaps}
    problems: list[str] = []
    notes: list[str] = []
    actual = manifest_sha256(snapshot)
    try:
        head = read_head(root)
    except ValueError as exc:
        return [str(exc)], notes
    vouchers = _vouchers(snaps).get(snapshot.ref, [])
    if head is not None and head.get("ref") == snapshot.ref:
        vouchers.append((HEAD, head.get("manifest_sha256")))
    for who, recorded in vouchers:
        if recorded != actual:
            problems.append(
                f"manifest.json: SHA-256 differs from the one {who} records (the manifest was edited)"
            )
    chained = FIELD in snapshot.manifest
    if not chained:
        notes.append(f"manifest.json: {UNCHAINED}")
    elif not vouchers:
        problems.append(f"manifest.json: no later manifest and not the chain head ({HEAD}) vouch for it")
    link = snapshot.manifest.get(FIELD)
    if isinstance(link, dict):
        previous = by_ref.get(str(link.get("ref")))
        if previous is None:
            problems.append(f"previous_manifest: {link.get('ref')} does not exist (the chain is broken)")
        elif manifest_sha256(previous) != link.get("manifest_sha256"):
            problems.append(
                f"previous_manifest: {previous.ref}'s manifest.json differs from the SHA-256 recorded here "
                "(it was edited after this snapshot was published)"
            )
    elif chained and link is not None:
        problems.append(f"previous_manifest: {link!r} is not a link (ref and manifest_sha256)")
    return problems, notes


def verify_chain(root: Path, *, audit_url: str | None = None) -> tuple[list[str], list[str]]:
    """(problems, notes) of the whole chain: walked from the head back to its start, every link checked;
    chained snapshots the walk does not reach, and a head differing from the audit log's, are problems."""
    from dtsen.cycle.snapshot import list_snapshots

    snaps = list_snapshots(root.parent)
    by_ref = {s.ref: s for s in snaps}
    problems: list[str] = []
    notes: list[str] = []
    try:
        head = read_head(root)
    except ValueError as exc:
        return [str(exc)], notes
    if head is None:
        if any(FIELD in s.manifest for s in snaps):
            problems.append(f"{HEAD} is missing although chained manifests exist")
        elif snaps:
            notes.append(
                f"no manifest is chained yet ({len(snaps)} {UNCHAINED.split(':')[0]}); the next publish "
                "starts the chain"
            )
        return problems, notes
    reached: list[str] = []
    ref, recorded, who = head.get("ref"), head.get("manifest_sha256"), HEAD
    while ref is not None:
        snap = by_ref.get(ref)
        if snap is None:
            problems.append(f"{who} names {ref}, which does not exist (the chain is broken)")
            break
        if ref in reached:
            problems.append(f"{who} names {ref} again: the chain loops")
            break
        reached.append(ref)
        if manifest_sha256(snap) != recorded:
            problems.append(f"{ref}: manifest.json SHA-256 differs from the one {who} records (edited)")
        if FIELD not in snap.manifest:
            notes.append(f"the chain starts at {ref} ({UNCHAINED.split(':')[0]})")
            break
        link = snap.manifest[FIELD]
        if link is None:
            break
        ref, recorded, who = link.get("ref"), link.get("manifest_sha256"), f"{ref}'s previous_manifest"
    for s in snaps:
        if s.ref not in reached:
            if FIELD in s.manifest:
                problems.append(f"{s.ref}: chained, but not reached from {HEAD} (the chain is broken)")
            else:
                notes.append(f"{s.ref}: {UNCHAINED}")
    if audit_url:
        audited = audited_head(audit_url)
        if audited is None:
            notes.append("the audit log holds no snapshot chain head")
        elif audited != {"ref": head.get("ref"), "manifest_sha256": head.get("manifest_sha256")}:
            problems.append(
                f"{HEAD} ({head.get('ref')}) differs from the newest head in the audit log ({audited['ref']})"
            )
    return problems, notes


__all__ = [
    "AUDIT_ACTION",
    "FIELD",
    "HEAD",
    "audited_head",
    "link_to_previous",
    "manifest_sha256",
    "read_head",
    "record_head",
    "verify_chain",
    "verify_manifest",
]
