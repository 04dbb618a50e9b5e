"""Login, logout and the OAuth2 client-credentials token endpoint."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
