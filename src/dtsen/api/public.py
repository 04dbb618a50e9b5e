"""Public citizen services (no login): Cek Status, Usul/Sanggah intake, Lacak, Siapa yang membaca data saya."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
