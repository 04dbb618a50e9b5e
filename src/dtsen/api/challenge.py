"""An offline challenge for the public forms: no external captcha service, nothing leaves the server.

Two kinds, both signed (HMAC with a key derived from the deployment secret), expiring and single-use:

* **Proof of work** (hashcash): the page's small script finds a ``nonce`` such that
  ``SHA-256(token ":" nonce)`` starts with ``difficulty`` zero bits. That costs the browser about
  ``2**difficulty`` hashes (18 bits: ~262,000, about a second on a cheap phone) and the server one hash
  to check. It makes every guess cost compute, so a script cannot fire thousands of lookups for free.
* **A question** for visitors without JavaScript: a small sum written in words ("tujuh tambah lima").
  The token carries only an HMAC of the expected answer, never the answer. A program can answer it, so
  it is a speed bump, not a wall: requests answered this way also count against the tighter ``tanya_ip``
  rate limit (see :mod:`dtsen.api.ratelimit`), which keeps the cheap path from being the attacker's way
  round the proof of work.

A spent challenge id goes into ``used_challenge`` (primary key), in its own committed transaction, so a
replayed form is refused even when several server processes share the load; expired ids are swept.

Settings (environment): ``DTSEN_CHALLENGE_DIFFICULTY`` (bits, default 18, at least 8) and
``DTSEN_CHALLENGE_TTL_SECONDS`` (default 900). Difficulty 0 turns the challenge off entirely and is
accepted only together with ``DTSEN_CHALLENGE_OFF_FOR_BENCH=1``: the flag ``dtsen bench serve`` sets on
the server it starts on 127.0.0.1 so one load generator can drive Cek Status at 200 requests a second.
Written here rather than taken from a library because the only maintained captcha packages are
image/audio captchas (inaccessible, and solved by OCR anyway) or clients of hosted services.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import Engine, delete, insert
from sqlalchemy.exc import IntegrityError

from dtsen.config import get_settings
from dtsen.store.db import retry_dropped
from dtsen.store.intake import UsedChallenge

_CONTEXT = b"dtsen/challenge/v1\x00"
VERSION = "c1"
DEFAULT_DIFFICULTY = 18
MIN_DIFFICULTY = 8
MAX_DIFFICULTY = 28
DEFAULT_TTL_SECONDS = 900
_SWEEP_ONE_IN = 100

# What `dtsen bench serve` puts in the environment of the server it starts on 127.0.0.1: the challenge off
# and the Cek Status limits out of a loopback run's reach (the rate-limit code still runs and is measured).
BENCH_ENV: dict[str, str] = {
    "DTSEN_CHALLENGE_DIFFICULTY": "0",
    "DTSEN_CHALLENGE_OFF_FOR_BENCH": "1",
    "DTSEN_RATE_LIMITS": "cek_ip=100000000/3600,cek_nik=100000000/86400,cek_pola=100000000/86400",
}

NUMBER_WORDS = (
    "nol",
    "satu",
    "dua",
    "tiga",
    "empat",
    "lima",
    "enam",
    "tujuh",
    "delapan",
    "sembilan",
    "sepuluh",
    "sebelas",
)


class ChallengeError(Exception):
    """The challenge is missing, forged, expired, wrong or already used; ``reason`` is a machine code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ChallengeSettings:
    difficulty: int
    ttl_seconds: int

    @property
    def enabled(self) -> bool:
        return self.difficulty > 0


def load_settings(environ: dict[str, str] | None = None) -> ChallengeSettings:
    """The challenge settings from the environment; refuses a weak or disabled challenge outside a bench."""
    env = os.environ if environ is None else environ
    raw = env.get("DTSEN_CHALLENGE_DIFFICULTY", str(DEFAULT_DIFFICULTY)).strip()
    ttl_raw = env.get("DTSEN_CHALLENGE_TTL_SECONDS", str(DEFAULT_TTL_SECONDS)).strip()
    if not raw.isdigit() or not ttl_raw.isdigit():
        raise ValueError("DTSEN_CHALLENGE_DIFFICULTY and DTSEN_CHALLENGE_TTL_SECONDS must be whole numbers")
    difficulty, ttl = int(raw), int(ttl_raw)
    if difficulty == 0:
        if env.get("DTSEN_CHALLENGE_OFF_FOR_BENCH") != "1":
            raise ValueError(
                "DTSEN_CHALLENGE_DIFFICULTY=0 turns off the public pages' challenge; it is allowed only "
                "with DTSEN_CHALLENGE_OFF_FOR_BENCH=1 (dtsen bench serve)"
            )
    elif not MIN_DIFFICULTY <= difficulty <= MAX_DIFFICULTY:
        raise ValueError(
            f"DTSEN_CHALLENGE_DIFFICULTY must be 0 (bench only) or {MIN_DIFFICULTY}..{MAX_DIFFICULTY}"
        )
    if not 60 <= ttl <= 86400:
        raise ValueError("DTSEN_CHALLENGE_TTL_SECONDS must be between 60 and 86400")
    return ChallengeSettings(difficulty, ttl)


@lru_cache(maxsize=4)
def _derived_key(secret: str) -> bytes:
    return hashlib.sha256(_CONTEXT + secret.encode("utf-8")).digest()


def _sign(message: str, secret: str | None = None) -> str:
    key = _derived_key(secret if secret is not None else get_settings().resolved_secret_key())
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte == 0:
            bits += 8
            continue
        return bits + 8 - byte.bit_length()
    return bits


def pow_digest(token: str, nonce: str) -> bytes:
    return hashlib.sha256(f"{token}:{nonce}".encode()).digest()


def solve(token: str, difficulty: int) -> str:
    """The first nonce meeting ``difficulty`` (what the page's script does; used by tests and the bench)."""
    counter = 0
    while leading_zero_bits(pow_digest(token, str(counter))) < difficulty:
        counter += 1
    return str(counter)


@dataclass(frozen=True)
class Issued:
    """One challenge as a form carries it: the proof-of-work token and the no-JS question."""

    pow_token: str
    difficulty: int
    question_token: str
    question: str  # Bahasa text, e.g. "tujuh tambah lima"


def issue(purpose: str, settings: ChallengeSettings, *, now: float | None = None) -> Issued:
    """A fresh challenge pair for a form of ``purpose`` (``cek``, ``usul``, ``lacak``, ``datasaya``)."""
    now = time.time() if now is None else now
    expires = int(now) + settings.ttl_seconds
    pow_id = secrets.token_hex(12)
    body = f"{VERSION}.p.{pow_id}.{expires}.{settings.difficulty}.{purpose}"
    pow_token = f"{body}.{_sign(body)}"
    left, right = 1 + secrets.randbelow(len(NUMBER_WORDS) - 1), secrets.randbelow(len(NUMBER_WORDS))
    question_id = secrets.token_hex(12)
    qbody = f"{VERSION}.q.{question_id}.{expires}.0.{purpose}"
    question_token = f"{qbody}.{_sign(f'{qbody}|{left + right}')}"
    question = f"{NUMBER_WORDS[left]} tambah {NUMBER_WORDS[right]}"
    return Issued(pow_token, settings.difficulty, question_token, question)


@dataclass(frozen=True)
class Passed:
    """A challenge that checked out: its id, whether it was the no-JS question, when it expires."""

    challenge_id: str
    by_question: bool
    expires: int


def _parse(token: str, purpose: str, kind: str, now: float) -> tuple[str, int, int, str]:
    parts = token.split(".")
    if len(parts) != 7 or parts[0] != VERSION or parts[1] != kind:
        raise ChallengeError("invalid")
    _, _, challenge_id, expires, difficulty, token_purpose, signature = parts
    if not (expires.isdigit() and difficulty.isdigit() and len(challenge_id) == 24):
        raise ChallengeError("invalid")
    if token_purpose != purpose:
        raise ChallengeError("invalid")
    if int(expires) < now:
        raise ChallengeError("expired")
    return challenge_id, int(expires), int(difficulty), signature


def check(
    purpose: str,
    settings: ChallengeSettings,
    *,
    pow_token: str | None,
    nonce: str | None,
    question_token: str | None,
    answer: str | None,
    now: float | None = None,
) -> Passed:
    """Check the submitted challenge without spending it (no database); raises :class:`ChallengeError`
    if it does not pass. Spend it with :func:`spend` before acting on the form.

    The proof of work wins when both are present (a script-enabled browser never submits the question).
    """
    now = time.time() if now is None else now
    if pow_token and nonce:
        challenge_id, expires, difficulty, signature = _parse(pow_token, purpose, "p", now)
        body = pow_token.rsplit(".", 1)[0]
        if not hmac.compare_digest(signature, _sign(body)):
            raise ChallengeError("invalid")
        if difficulty < settings.difficulty:
            raise ChallengeError("invalid")  # a token issued before the difficulty was raised
        if len(nonce) > 20 or leading_zero_bits(pow_digest(pow_token, nonce)) < difficulty:
            raise ChallengeError("wrong")
        return Passed(challenge_id, False, expires)
    if question_token and answer is not None:
        challenge_id, expires, _, signature = _parse(question_token, purpose, "q", now)
        body = question_token.rsplit(".", 1)[0]
        cleaned = answer.strip()
        if not cleaned.isdigit() or len(cleaned) > 3:
            raise ChallengeError("wrong")
        if not hmac.compare_digest(signature, _sign(f"{body}|{int(cleaned)}")):
            raise ChallengeError("wrong")
        return Passed(challenge_id, True, expires)
    raise ChallengeError("missing")


def verify(
    engine: Engine,
    purpose: str,
    settings: ChallengeSettings,
    *,
    pow_token: str | None,
    nonce: str | None,
    question_token: str | None,
    answer: str | None,
    now: float | None = None,
) -> Passed:
    """:func:`check` the submitted challenge and :func:`spend` it."""
    passed = check(
        purpose,
        settings,
        pow_token=pow_token,
        nonce=nonce,
        question_token=question_token,
        answer=answer,
        now=now,
    )
    spend(engine, passed.challenge_id, passed.expires, now=now)
    return passed


def spend(engine: Engine, challenge_id: str, expires: int, *, now: float | None = None) -> None:
    """Record ``challenge_id`` as used (own transaction; pass the tally engine,
    :func:`dtsen.store.db.make_tally_engine`); :class:`ChallengeError` ``replayed`` if it was."""
    now = time.time() if now is None else now

    def record() -> None:
        with engine.begin() as connection:
            connection.execute(
                insert(UsedChallenge).values(
                    challenge_id=challenge_id, expires_at=datetime.fromtimestamp(expires, UTC)
                )
            )

    try:
        retry_dropped(record)
    except IntegrityError as exc:
        raise ChallengeError("replayed") from exc
    if secrets.randbelow(_SWEEP_ONE_IN) == 0:
        with engine.begin() as connection:
            connection.execute(
                delete(UsedChallenge).where(UsedChallenge.expires_at < datetime.fromtimestamp(now, UTC))
            )
