"""Staff pages and API: search within one's region, the family page, history, programs, provenance."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
