"""The dead-code check of scripts/test.sh: vulture over src/dtsen, exit 1 if it finds anything.

Code counts as used if anything in src/, tests/ or scripts/deadcode_whitelist.py names it (the whitelist
holds what a framework calls by a string or a fixed name). Reported: unused functions, classes, methods,
properties, imports, unreachable code and module-level names. Not reported: names assigned inside a class
or on an object (pydantic and dataclass fields, SQLAlchemy columns, enum members: declarations whose
readers are the frameworks, the database or the JSON they become), and the migrations, which Alembic
runs by file. Routes, CLI commands and validators are registered by their decorators (or, for a
lazily loaded CLI command, by name in ``dtsen.cli.main.COMMANDS``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import vulture

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "dtsen"
WHITELIST = ROOT / "scripts" / "deadcode_whitelist.py"
DECORATORS = ["@*.command", "@*.callback", "@router.*", "@app.*", "@field_validator", "@model_validator"]
DECLARATIONS = {"attribute"}  # ``obj.field = value``: a column or field set on a model


def lazy_commands() -> list[str]:
    """CLI commands ``dtsen.cli.main`` imports by module and attribute name when one is run."""
    from dtsen.cli.main import COMMANDS

    return sorted({command.attribute for command in COMMANDS.values()})


def dead_code() -> list[vulture.core.Item]:
    finder = vulture.Vulture(ignore_names=lazy_commands(), ignore_decorators=DECORATORS)
    finder.scavenge([str(ROOT / "src"), str(ROOT / "tests"), str(WHITELIST)], exclude=["*/migrations/*"])
    found = []
    lines: dict[Path, list[str]] = {}
    for item in finder.get_unused_code(min_confidence=60):
        path = Path(item.filename).resolve()
        if not path.is_relative_to(PACKAGE) or item.typ in DECLARATIONS:
            continue
        if item.typ == "variable":
            text = lines.setdefault(path, path.read_text(encoding="utf-8").splitlines())
            if text[item.first_lineno - 1][:1].isspace():  # a class field, or a local (ruff's F841)
                continue
        found.append(item)
    return found


def main() -> int:
    found = dead_code()
    for item in found:
        print(item.get_report(), file=sys.stderr)
    if found:
        print(
            f"dead-code check: {len(found)} unused name(s); delete them, or name them in "
            f"{WHITELIST.relative_to(ROOT)} if a framework calls them by name",
            file=sys.stderr,
        )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
