"""Quoting for the SQL the project writes as text (DuckDB and PostgreSQL share these rules).

Every path, name or value put into a SQL string goes through one of these two, so a quote in a file name
or a column header is data, never syntax.
"""

from __future__ import annotations

from pathlib import Path


def quote_literal(value: str | Path) -> str:
    """A string literal: ``'...'`` with every ``'`` doubled (``str(path)`` for a path)."""
    return "'" + str(value).replace("'", "''") + "'"


def quote_ident(name: str) -> str:
    """A quoted identifier: ``"..."`` with every ``"`` doubled (a column named as its source file names
    it)."""
    return '"' + name.replace('"', '""') + '"'


__all__ = ["quote_ident", "quote_literal"]
