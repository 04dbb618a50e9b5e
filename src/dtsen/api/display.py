"""Small display helpers the staff-side routers share: a registry answer's attribute, a masked NIK (and
who sees it in full), a region's or a code's name, and the village picker of name search.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from markupsafe import Markup, escape

from dtsen.auth.scope import Principal, Role

FULL_NIK_ROLES = frozenset(
    {Role.ADMIN_BPS, Role.DINSOS, Role.OPERATOR_DESA, Role.PENDAMPING, Role.KLIEN_INSTANSI}
)


# -- small helpers -------------------------------------------------------------------------------------------
def field(obj: Any, name: str, default: Any = None) -> Any:
    """An attribute of a registry answer, whether it is an object or a mapping."""
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def mask_identifier(value: str | None) -> str | None:
    """``3401012345670012`` -> ``340101********12``: the kecamatan of registration and two digits."""
    if not value:
        return value
    if len(value) < 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 8) + value[-2:]


def shows_full_nik(principal: Principal) -> bool:
    return principal.role in FULL_NIK_ROLES


def region_name(kode: str | None) -> str | None:
    if not kode:
        return None
    from dtsen.reference.regions import lookup

    region = lookup(kode)
    return region.nama if region is not None else kode


def code_label(code_list: Any, value: Any, lang: str) -> str | None:
    if value is None:
        return None
    try:
        member = code_list(int(value))
    except (ValueError, TypeError):
        return str(value)
    return member.label_en if lang == "en" else member.label


def percent(probability: float | None) -> str:
    return "–" if probability is None else f"{round(probability * 100)}%"


@lru_cache(maxsize=256)
def _village_option_tags(regions: tuple[str, ...]) -> str:
    import polars as pl

    from dtsen.reference.regions import villages

    inside = pl.any_horizontal([pl.col("kode").str.starts_with(region) for region in regions])
    rows = villages().filter(inside).sort("nama").select("kode", "nama").iter_rows()
    tags = [f'<option value="{escape(kode)}">{escape(nama)} ({escape(kode)})</option>' for kode, nama in rows]
    return "".join(tags) if len(tags) <= 500 else ""


def desa_options(principal: Principal, selected: str = "") -> Markup | None:
    """The ``<option>`` tags of the villages a regional user may search by name (``selected`` marked),
    or None for a free code field (national users; more than 500 villages).

    Built once per set of regions: a kab/kota has a few hundred villages, and reading the region list
    and rendering them per request was most of a staff search's time.
    """
    if principal.national or not principal.regions:
        return None
    tags = _village_option_tags(tuple(sorted(principal.regions)))
    if not tags:
        return None
    if selected.isdigit():
        tags = tags.replace(f'<option value="{selected}">', f'<option value="{selected}" selected>', 1)
    return Markup(tags)  # noqa: S704 - every value in it was escaped above; ``selected`` is digits
