"""What every public form shares: its labels and messages, the guards in their order (per-network rate
limit, offline challenge, per-NIK rate limit; hits commit on their own connection), the refusal page, and
the region picker's options.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from dtsen.api import challenge as challenge_mod
from dtsen.api import ratelimit, uploads
from dtsen.web.i18n import N_
from dtsen.web.templating import render
from dtsen.workflows import intake
from dtsen.workflows.machine import WORKFLOWS

OBJECTION_LABELS: dict[str, str] = {
    "excluded_but_eligible": N_("Keluarga layak menerima bantuan tetapi tidak terdaftar"),
    "included_not_eligible": N_("Keluarga terdaftar sebagai penerima tetapi tidak layak"),
    "wrong_data": N_("Data keluarga tidak benar"),
    "deceased_listed": N_("Anggota keluarga yang sudah meninggal masih tercatat"),
}


# What the citizen's Lacak page says of each state of a request's case (from the workflows' definitions).
STATE_LABELS: dict[str, str] = {
    state.name: state.public_label or state.label
    for workflow in WORKFLOWS.values()
    for state in workflow.states
}

DOCUMENT_FIELDS: dict[str, str] = {
    "dokumen_ktp": "ktp",
    "dokumen_kk": "kk",
    "dokumen_listrik": "tagihan_listrik",
}

DOCUMENT_LABELS: dict[str, str] = {
    "ktp": N_("Foto KTP"),
    "kk": N_("Foto Kartu Keluarga"),
    "tagihan_listrik": N_("Tagihan atau struk listrik"),
    "lainnya": N_("Dokumen lain"),
}


CHALLENGE_MESSAGES: dict[str, str] = {
    "missing": N_(
        "Pemeriksaan keamanan belum selesai. Tunggu sebentar lalu kirim lagi, atau jawab pertanyaan hitungan."
    ),
    "invalid": N_("Pemeriksaan keamanan tidak sah. Muat ulang halaman lalu coba lagi."),
    "expired": N_("Halaman sudah terlalu lama dibuka. Isian Anda masih ada; kirim lagi."),
    "wrong": N_("Jawaban pertanyaan hitungan salah. Coba lagi."),
    "replayed": N_("Formulir ini sudah pernah dikirim. Isian Anda masih ada; kirim lagi bila perlu."),
}

UNRANKED_REASONS: dict[str, str] = {
    "tanpa_observasi": N_(
        "Data kondisi rumah tangga keluarga ini belum pernah dikumpulkan petugas, sehingga peringkatnya "
        "belum dapat dihitung."
    ),
    "tanpa_kepala_dewasa": N_(
        "Keluarga ini tidak memiliki kepala keluarga dewasa yang tercatat, sehingga peringkatnya belum dapat "
        "dihitung."
    ),
}

UNRANKED_DEFAULT = N_("Data keluarga ini belum cukup untuk menghitung peringkat.")


def _limits(request: Request) -> dict[str, ratelimit.Limit]:
    state = request.app.state
    limits = getattr(state, "public_rate_limits", None)
    if limits is None:
        limits = state.public_rate_limits = ratelimit.configured_limits()
    return limits


def _challenge_settings(request: Request) -> challenge_mod.ChallengeSettings:
    state = request.app.state
    settings = getattr(state, "challenge_settings", None)
    if settings is None:
        settings = state.challenge_settings = challenge_mod.load_settings()
    return settings


def upload_root(request: Request) -> Path:
    """``data_dir/uploads`` of the app's settings (``app.state.upload_dir`` overrides it, for tests)."""
    override = getattr(request.app.state, "upload_dir", None)
    if override is not None:
        return Path(override)
    from dtsen.config import get_settings

    settings = getattr(request.app.state, "settings", None) or get_settings()
    return uploads.upload_root(Path(settings.data_dir))


class RefusedError(Exception):
    """A guard refused the request: answered with ``response``."""

    def __init__(self, response: Response) -> None:
        super().__init__("refused")
        self.response = response


def _too_many(request: Request, exc: ratelimit.RateLimitedError) -> Response:
    minutes = max(1, (exc.retry_after + 59) // 60)
    return render(
        request,
        "public/terlalu_banyak.html",
        {"minutes": minutes, "nav_current": None},
        status_code=429,
        headers={"Retry-After": str(exc.retry_after)},
    )


def count_hit(request: Request, checks: list[tuple[str, str]]) -> None:
    """Count the request in each ``(bucket, value)`` at once (one statement on PostgreSQL, committed at
    once on the tally engine); a limit reached answers 429."""
    limits = _limits(request)
    try:
        ratelimit.hit_many(
            ratelimit.tally_engine(request), [(limits[bucket], value) for bucket, value in checks]
        )
    except ratelimit.RateLimitedError as exc:
        raise RefusedError(_too_many(request, exc)) from exc


def say_message(_: Callable[[str], str], message: intake.Message) -> str:
    """A workflow message in the request's language (its parameters are msgids or plain values)."""
    msgid, params = message
    return _(msgid) % {key: _(value) for key, value in params.items()}


def form_text(form: FormData, name: str, max_length: int = 4000) -> str:
    value = form.get(name)
    return value[:max_length] if isinstance(value, str) else ""


# Filling in a request with documents takes longer than a status check: its challenge lives at least an
# hour, so a citizen who photographs a KTP meanwhile does not lose the form (files cannot be refilled).
USUL_MIN_TTL_SECONDS = 3600


def new_challenge(request: Request, purpose: str) -> challenge_mod.Issued | None:
    settings = _challenge_settings(request)
    if not settings.enabled:
        return None
    if purpose == "usul" and settings.ttl_seconds < USUL_MIN_TTL_SECONDS:
        settings = challenge_mod.ChallengeSettings(settings.difficulty, USUL_MIN_TTL_SECONDS)
    return challenge_mod.issue(purpose, settings)


def admit(
    request: Request,
    form: FormData,
    purpose: str | None,
    network: tuple[str, str],
    subject: list[tuple[str, str]],
    retry: Callable[[str], Response],
) -> None:
    """The guards of a public form whose fields were checked in-process, with one counting statement.

    Counted: the client network always (malformed input and failed challenges count too), the no-JS
    question's tighter ``tanya_ip`` when the form was answered that way, and the ``subject`` buckets (per
    NIK, per tracking number) when the challenge checked out; pass no subject when the fields were
    invalid. Then a limit reached answers 429, a failed challenge its message, and the challenge is spent
    (a replayed form is refused). The caller answers invalid fields (422) after this.
    """
    settings = _challenge_settings(request)
    passed: challenge_mod.Passed | None = None
    problem: str | None = None
    if purpose is not None and settings.enabled:
        try:
            passed = challenge_mod.check(
                purpose,
                settings,
                pow_token=form_text(form, "tantangan_token", 300) or None,
                nonce=form_text(form, "tantangan_nonce", 40) or None,
                question_token=form_text(form, "soal_token", 300) or None,
                answer=form_text(form, "soal_jawaban", 20) or None,
            )
        except challenge_mod.ChallengeError as exc:
            problem = exc.reason
    checks = [network]
    if passed is not None and passed.by_question:
        checks.append(("tanya_ip", network[1]))
    if problem is None:
        checks.extend(subject)
    count_hit(request, checks)
    if problem is not None:
        raise RefusedError(retry(CHALLENGE_MESSAGES[problem]))
    if passed is not None:
        try:
            challenge_mod.spend(ratelimit.tally_engine(request), passed.challenge_id, passed.expires)
        except challenge_mod.ChallengeError as exc:
            raise RefusedError(retry(CHALLENGE_MESSAGES[exc.reason])) from exc


def region_options(session: Session, params: Mapping[str, str]) -> dict[str, Any]:
    """The cascading selects' options and choices (province -> kab/kota -> kecamatan -> desa); a choice
    that does not lie inside the one above it is dropped, with everything below it."""
    levels = ("prov", "kab", "kec", "desa")
    chosen = {level: (params.get(level) or "").strip() for level in levels}
    options: dict[str, list[tuple[str, str]]] = {"prov": intake.region_children(session, None)}
    options.update({"kab": [], "kec": [], "desa": []})
    parent = ""
    for position, (level, length) in enumerate((("prov", 2), ("kab", 4), ("kec", 6), ("desa", 10))):
        value = chosen[level]
        valid = len(value) == length and value.isdigit() and value.startswith(parent)
        if not valid:
            for lower in levels[position:]:
                chosen[lower] = ""
            break
        parent = value
        if level != "desa":
            options[levels[position + 1]] = intake.region_children(session, value)
    return {"options": options, "chosen": chosen}
