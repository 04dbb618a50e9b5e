"""What browser test files import from their conftest's world: the live server handle and page checks
(a module of its own, because two files named conftest.py cannot both be imported by name)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

PASSWORD = "Uji-browser-2026!kata"  # noqa: S105 - a throwaway account on a test database


@dataclass
class LiveServer:
    url: str
    db_url: str
    engine: Engine
    data_dir: Path
    app: Any
    _users: dict[tuple[str, tuple[str, ...]], str] = field(default_factory=dict)

    def user(self, role: str, regions: tuple[str, ...] = ()) -> tuple[str, str]:
        """A staff account of ``role`` bound to ``regions`` (created once per server): (username,
        password)."""
        key = (role, tuple(regions))
        if key not in self._users:
            from dtsen.auth.accounts import create_user
            from dtsen.store.db import session_scope

            username = f"uji.{role.replace('_', '-')}.{len(self._users) + 1}"
            with session_scope(engine=self.engine) as db:
                create_user(
                    db,
                    username=username,
                    full_name=f"Petugas Uji {role}",
                    role=role,
                    regions=regions,
                    password=PASSWORD,
                    now=datetime.now(UTC),
                    actor={"actor": "system:test", "actor_role": None},
                )
            self._users[key] = username
        return self._users[key], PASSWORD

    def family_in(self, kode_desa: str | None = None, *, other_than: str | None = None) -> tuple[str, str]:
        """(family id, kode_desa) of a ranked family of the current snapshot, in ``kode_desa`` or outside
        ``other_than``; picked from the database so tests never hard-code ids."""
        from dtsen.store.served import ServedFamily, ServedSnapshot

        with self.engine.connect() as connection:
            current = connection.scalar(select(ServedSnapshot.id).where(ServedSnapshot.is_current))
            query = (
                select(ServedFamily.id_keluarga_dtsen, ServedFamily.kode_desa)
                .where(ServedFamily.snapshot_id == current, ServedFamily.desil_nasional.is_not(None))
                .order_by(ServedFamily.id_keluarga_dtsen)
            )
            if kode_desa:
                query = query.where(ServedFamily.kode_desa == kode_desa)
            if other_than:
                query = query.where(ServedFamily.kode_desa != other_than)
            row = connection.execute(query.limit(1)).one()
        return str(row[0]), str(row[1])


def assert_fits_width(page: Any) -> None:
    """No horizontal scrolling: the page is no wider than its viewport."""
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the viewport"


ACCESSIBILITY_PROBE = """() => {
  const problems = [];
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  if (!document.documentElement.getAttribute('lang')) problems.push('html without lang');
  if (document.querySelectorAll('main').length !== 1) problems.push('not exactly one main landmark');
  if (document.querySelectorAll('h1').length !== 1) problems.push('not exactly one h1');
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden' || !visible(el)) continue;
    const named = (el.labels && el.labels.length) || el.getAttribute('aria-label')
      || el.getAttribute('aria-labelledby');
    if (!named) problems.push('unlabelled field ' + (el.name || el.id || el.type));
  }
  for (const el of document.querySelectorAll('a, button')) {
    if (!visible(el)) continue;
    const name = (el.getAttribute('aria-label') || el.innerText || '').trim();
    if (!name) problems.push('link or button without a name: ' + el.outerHTML.slice(0, 80));
  }
  for (const el of document.querySelectorAll('svg[role=img]')) {
    if (!el.getAttribute('aria-labelledby') && !el.getAttribute('aria-label')) {
      problems.push('chart without a name');
    }
  }
  for (const el of document.querySelectorAll('[id]')) {
    if (document.querySelectorAll('#' + CSS.escape(el.id)).length > 1) problems.push('duplicate id ' + el.id);
  }
  return [...new Set(problems)];
}"""


def assert_accessible_basics(page: Any) -> None:
    """What a screen-reader or keyboard user needs at the least: a language, one main landmark and one
    h1, a label on every visible field, a name on every link, button and chart, unique ids."""
    problems = page.evaluate(ACCESSIBILITY_PROBE)
    assert not problems, f"{page.url}: {problems}"
