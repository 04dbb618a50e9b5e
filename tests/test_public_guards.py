"""The public pages' guards on their own: rate limits, the offline challenge, tracking numbers, uploads.

Database-backed pieces run on SQLite and PostgreSQL (the ``engine`` fixture); time is passed in, never
waited for.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import Engine, func, select
from starlette.datastructures import Headers, UploadFile

from dtsen.api import challenge, ratelimit, uploads
from dtsen.store.intake import RateLimitCounter
from dtsen.workflows import intake

# --- rate limits ----------------------------------------------------------------------------------------


def test_rate_limit_refuses_after_the_limit_and_says_when_to_retry(engine: Engine) -> None:
    limit = ratelimit.Limit("cek_ip", 5, 3600)
    start = 1_800_000_000.0  # on a window boundary (divisible by 3600)
    for n in range(5):
        assert ratelimit.hit(engine, limit, "10.1.1.1", now=start + n) == n + 1
    with pytest.raises(ratelimit.RateLimitedError) as refused:
        ratelimit.hit(engine, limit, "10.1.1.1", now=start + 10)
    # All five hits are in the current window, so it must end and they must decay: about a window.
    assert 3600 - 10 < refused.value.retry_after <= 2 * 3600
    # Another key is not affected; the table holds keyed hashes, not the address.
    assert ratelimit.hit(engine, limit, "10.1.1.2", now=start + 10) == 1
    with engine.connect() as connection:
        keys = connection.scalars(select(RateLimitCounter.key)).all()
    assert all("10.1.1" not in key and len(key) == 64 for key in keys)


def test_rate_limit_window_slides(engine: Engine) -> None:
    limit = ratelimit.Limit("lacak_ip", 10, 100)
    base = 1_800_000_000.0
    for n in range(10):
        ratelimit.hit(engine, limit, "slide", now=base + 50 + n * 0.1)
    with pytest.raises(ratelimit.RateLimitedError):
        ratelimit.hit(engine, limit, "slide", now=base + 99)
    # 11 hits in the previous window (the refused one counts too), 50 % into the next: estimate 5.5 + 1.
    assert ratelimit.hit(engine, limit, "slide", now=base + 150) == 7
    # A full window later the old hits weigh nothing.
    assert ratelimit.hit(engine, limit, "slide", now=base + 300) == 1


def test_rate_limit_overrides_are_parsed_and_checked() -> None:
    limits = ratelimit.parse_limits("cek_ip=100000000/3600, cek_nik=3/60")
    assert limits["cek_ip"] == ratelimit.Limit("cek_ip", 100_000_000, 3600)
    assert limits["cek_nik"].hits == 3
    assert limits["usul_ip"] == ratelimit.DEFAULT_LIMITS["usul_ip"]
    for bad in ("nope=1/2", "cek_ip=x/2", "cek_ip=0/10", "cek_ip"):
        with pytest.raises(ValueError, match="DTSEN_RATE_LIMITS"):
            ratelimit.parse_limits(bad)


def test_ipv6_clients_are_limited_per_64_network() -> None:
    class Client:
        def __init__(self, host: str) -> None:
            self.host = host

    class FakeRequest:
        def __init__(self, host: str) -> None:
            self.client = Client(host)

    one = ratelimit.client_network(FakeRequest("2001:db8:1:2::1"))  # type: ignore[arg-type]
    two = ratelimit.client_network(FakeRequest("2001:db8:1:2:ffff::9"))  # type: ignore[arg-type]
    assert one == two == "2001:db8:1:2::/64"
    assert ratelimit.client_network(FakeRequest("::ffff:10.0.0.1")) == "10.0.0.1"  # type: ignore[arg-type]


# --- the challenge --------------------------------------------------------------------------------------

SETTINGS = challenge.ChallengeSettings(difficulty=10, ttl_seconds=600)


def _verify(engine: Engine, issued: challenge.Issued, **fields: str | None) -> challenge.Passed:
    arguments: dict[str, str | None] = {
        "pow_token": None,
        "nonce": None,
        "question_token": None,
        "answer": None,
    }
    arguments.update(fields)
    return challenge.verify(engine, "cek", SETTINGS, **arguments)  # type: ignore[arg-type]


def test_proof_of_work_passes_once_and_replay_is_refused(engine: Engine) -> None:
    issued = challenge.issue("cek", SETTINGS)
    nonce = challenge.solve(issued.pow_token, issued.difficulty)
    passed = _verify(engine, issued, pow_token=issued.pow_token, nonce=nonce)
    assert not passed.by_question
    with pytest.raises(challenge.ChallengeError) as replay:
        _verify(engine, issued, pow_token=issued.pow_token, nonce=nonce)
    assert replay.value.reason == "replayed"


def test_wrong_nonce_forged_token_other_form_and_weaker_difficulty_are_refused(engine: Engine) -> None:
    issued = challenge.issue("cek", SETTINGS)
    nonce = challenge.solve(issued.pow_token, issued.difficulty)
    bad_nonce = next(
        str(n)
        for n in range(10_000)
        if challenge.leading_zero_bits(challenge.pow_digest(issued.pow_token, str(n))) < SETTINGS.difficulty
    )
    with pytest.raises(challenge.ChallengeError, match="wrong"):
        _verify(engine, issued, pow_token=issued.pow_token, nonce=bad_nonce)
    # Lowering the difficulty in the token breaks its signature.
    forged = issued.pow_token.replace(".10.cek.", ".1.cek.")
    with pytest.raises(challenge.ChallengeError, match="invalid"):
        _verify(engine, issued, pow_token=forged, nonce="0")
    # A token issued for another form does not pass here.
    other = challenge.issue("usul", SETTINGS)
    with pytest.raises(challenge.ChallengeError, match="invalid"):
        _verify(engine, other, pow_token=other.pow_token, nonce=challenge.solve(other.pow_token, 10))
    # A token issued at a lower difficulty than the server now asks for is refused.
    weak = challenge.issue("cek", challenge.ChallengeSettings(8, 600))
    with pytest.raises(challenge.ChallengeError, match="invalid"):
        _verify(engine, weak, pow_token=weak.pow_token, nonce=challenge.solve(weak.pow_token, 8))
    assert _verify(engine, issued, pow_token=issued.pow_token, nonce=nonce).challenge_id


def test_expired_challenge_is_refused(engine: Engine) -> None:
    issued = challenge.issue("cek", SETTINGS, now=time.time() - 601)
    nonce = challenge.solve(issued.pow_token, issued.difficulty)
    with pytest.raises(challenge.ChallengeError, match="expired"):
        _verify(engine, issued, pow_token=issued.pow_token, nonce=nonce)


def test_question_for_visitors_without_javascript(engine: Engine) -> None:
    issued = challenge.issue("cek", SETTINGS)
    left, right = issued.question.split(" tambah ")
    answer = challenge.NUMBER_WORDS.index(left) + challenge.NUMBER_WORDS.index(right)
    assert str(answer) not in issued.question_token.split(".")[2:6]  # the token does not carry the answer
    with pytest.raises(challenge.ChallengeError, match="wrong"):
        _verify(engine, issued, question_token=issued.question_token, answer=str(answer + 1))
    with pytest.raises(challenge.ChallengeError, match="wrong"):
        _verify(engine, issued, question_token=issued.question_token, answer="dua belas")
    passed = _verify(engine, issued, question_token=issued.question_token, answer=f" {answer} ")
    assert passed.by_question
    with pytest.raises(challenge.ChallengeError, match="replayed"):
        _verify(engine, issued, question_token=issued.question_token, answer=str(answer))
    with pytest.raises(challenge.ChallengeError, match="missing"):
        _verify(engine, issued)


def test_difficulty_zero_only_with_the_bench_flag() -> None:
    assert challenge.load_settings({}).difficulty == challenge.DEFAULT_DIFFICULTY
    with pytest.raises(ValueError, match="DTSEN_CHALLENGE_OFF_FOR_BENCH"):
        challenge.load_settings({"DTSEN_CHALLENGE_DIFFICULTY": "0"})
    off = challenge.load_settings({"DTSEN_CHALLENGE_DIFFICULTY": "0", "DTSEN_CHALLENGE_OFF_FOR_BENCH": "1"})
    assert not off.enabled
    for weak in ("3", "40", "x"):
        with pytest.raises(ValueError, match="DTSEN_CHALLENGE"):
            challenge.load_settings({"DTSEN_CHALLENGE_DIFFICULTY": weak})


def test_bench_environment_turns_the_challenge_off_and_raises_the_limits() -> None:
    assert not challenge.load_settings(challenge.BENCH_ENV).enabled
    limits = ratelimit.parse_limits(challenge.BENCH_ENV["DTSEN_RATE_LIMITS"])
    assert min(limits[b].hits for b in ("cek_ip", "cek_nik", "cek_pola")) >= 100_000_000


def test_used_challenges_are_swept_after_expiry(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from dtsen.store.intake import UsedChallenge

    monkeypatch.setattr(challenge.secrets, "randbelow", lambda n: 0)  # sweep on this call
    challenge.spend(engine, "a" * 24, int(time.time()) - 10)
    challenge.spend(engine, "b" * 24, int(time.time()) + 600)
    with engine.connect() as connection:
        left = set(connection.scalars(select(UsedChallenge.challenge_id)))
    assert "a" * 24 not in left
    assert "b" * 24 in left


# --- tracking numbers -----------------------------------------------------------------------------------


def test_tracking_numbers_are_random_readable_and_checked() -> None:
    numbers = {intake.new_tracking_number() for _ in range(2000)}
    assert len(numbers) == 2000
    for number in list(numbers)[:200]:
        assert intake.normalise_tracking_number(number) == number
        assert intake.normalise_tracking_number(number.lower().replace("-", " ")) == number
        body = number.replace("-", "")[len("DTSEN") :]
        for position in range(len(body)):  # every single mistyped character is caught by the check
            for char in intake.ALPHABET:
                if char != body[position]:
                    typo = body[:position] + char + body[position + 1 :]
                    assert intake.normalise_tracking_number(typo) is None
    assert intake.normalise_tracking_number("DTSEN-0000") is None
    assert intake.normalise_tracking_number("<script>") is None
    assert intake.normalise_tracking_number(None) is None


def test_look_alike_characters_are_read_as_digits() -> None:
    number = next(n for n in iter(intake.new_tracking_number, None) if "0" in n[6:] or "1" in n[6:])
    mistyped = number[:6] + number[6:].replace("0", "O").replace("1", "l")
    assert intake.normalise_tracking_number(mistyped) == number


def test_identifiers_are_sealed_not_stored_in_clear() -> None:
    sealed = intake.seal("3471011203900001")
    assert "3471011203900001" not in sealed
    assert sealed.startswith("v1:")
    assert intake.seal("3471011203900001") != sealed  # random nonce
    assert intake.unseal(sealed) == "3471011203900001"
    with pytest.raises(Exception):  # noqa: B017, PT011 - any tampering fails authentication
        intake.unseal(sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB"))


# --- uploads --------------------------------------------------------------------------------------------


def jpeg_with_gps() -> bytes:
    """A real JPEG whose EXIF holds a camera model and GPS coordinates."""
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0110] = "KameraRahasia"  # Model
    exif[0x8825] = {1: "S", 2: (7.0, 48.0, 0.0), 3: "E", 4: (110.0, 22.0, 0.0)}  # GPS IFD
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def _upload(data: bytes, name: str) -> UploadFile:
    return UploadFile(io.BytesIO(data), size=len(data), filename=name, headers=Headers({}))


def test_jpeg_metadata_is_stripped_and_stored_by_content(tmp_path: Path) -> None:
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)
    data, mime, name = uploads.read_checked(_upload(original, "../../ktp saya.JPG"), "ktp")
    assert mime == "image/jpeg"
    assert name == "ktp saya.jpg"
    cleaned = Image.open(io.BytesIO(data))
    assert not cleaned.getexif()
    assert b"KameraRahasia" not in data
    assert b"Exif" not in data[:200]
    assert cleaned.size == (64, 48)
    digest = uploads.store_bytes(data, tmp_path)
    assert uploads.store_bytes(data, tmp_path) == digest  # stored once
    assert uploads.path_of(tmp_path, digest).read_bytes() == data
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [digest]


def test_png_and_pdf_are_accepted() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (10, 10)).save(out, format="PNG")
    assert uploads.read_checked(_upload(out.getvalue(), "kk.png"), "kk")[1] == "image/png"
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    assert uploads.read_checked(_upload(pdf, "tagihan"), "tagihan_listrik")[1:] == (
        "application/pdf",
        "tagihan.pdf",
    )


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"%PDF-1.4\n%%EOF\n", "foto.jpg", "type_mismatch"),  # a PDF named .jpg
        (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 100, "foto.jpg", "type"),  # a Windows executable
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 100, "ktp.png", "type"),  # a Linux executable
        (b"<html><script>alert(1)</script></html>", "ktp.jpg", "type"),
        (b"\xff\xd8\xff\xe0 not really a jpeg", "ktp.jpg", "damaged"),
        (b"%PDF-1.4 truncated", "surat.pdf", "damaged"),
        (b"", "kosong.jpg", "empty"),
    ],
)
def test_wrong_content_is_refused(data: bytes, name: str, reason: str) -> None:
    with pytest.raises(uploads.UploadRejectedError) as refused:
        uploads.read_checked(_upload(data, name), "ktp")
    assert refused.value.reason == reason
    assert refused.value.status in {400, 415}


def test_too_large_file_is_refused_without_reading_it_all() -> None:
    big = b"\xff\xd8\xff" + b"\x00" * (uploads.MAX_FILE_BYTES + 10)
    with pytest.raises(uploads.UploadRejectedError) as refused:
        uploads.read_checked(_upload(big, "besar.jpg"), "ktp")
    assert (refused.value.reason, refused.value.status) == ("too_large", 413)


def test_decompression_bomb_is_refused() -> None:
    out = io.BytesIO()
    Image.new("1", (9000, 9000)).save(out, format="PNG")  # 81 MP of one bit: a few KB
    with pytest.raises(uploads.UploadRejectedError, match="too_many_pixels"):
        uploads.read_checked(_upload(out.getvalue(), "bom.png"), "ktp")


def test_counts_are_bounded(engine: Engine) -> None:
    # The counters table holds two windows per key, however many hits: bounded storage.
    limit = ratelimit.Limit("datasaya_ip", 1000, 60)
    for n in range(50):
        ratelimit.hit(engine, limit, "bounded", now=1_800_000_000.0 + n)
    with engine.connect() as connection:
        rows = connection.scalar(
            select(func.count()).select_from(RateLimitCounter).where(RateLimitCounter.bucket == "datasaya_ip")
        )
    assert rows == 1


def test_times_are_shown_in_the_regions_time_zone() -> None:
    from datetime import UTC, datetime

    moment = datetime(2026, 7, 1, 1, 30, tzinfo=UTC)
    assert intake.local_time(moment, "3471011001")[0].hour == 8  # WIB
    assert intake.local_time(moment, "5171")[1] == "WITA"  # Denpasar
    assert intake.local_time(moment, "9471")[1] == "WIT"  # Jayapura
    assert intake.local_time(moment, None)[1] == "WIB"


def _statements(engine: Engine) -> list[str]:
    """Every SQL statement ``engine`` sends from now on (appended to the returned list)."""
    from sqlalchemy import event

    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, statement, *_: sent.append(statement))
    return sent


def test_every_counter_of_a_request_is_one_statement_on_the_tally_engine(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dtsen.store.db import make_tally_engine

    monkeypatch.setattr(ratelimit, "_SWEEP_ONE_IN", 10**9)  # no sweep in this test
    del engine  # the migrated database of this module
    engine = make_tally_engine(db_url)
    try:
        sent = _statements(engine)
        checks = [
            (ratelimit.Limit("cek_ip", 100, 3600), "10.9.9.9"),
            (ratelimit.Limit("cek_nik", 3, 86400), "3171010101900001"),
            (ratelimit.Limit("cek_pola", 100, 86400), "317101010190|BUDI"),
        ]
        now = 1_800_003_600.0
        assert ratelimit.hit_many(engine, checks, now=now) == [1, 1, 1]
        assert ratelimit.hit_many(engine, checks, now=now + 1) == [2, 2, 2]
        statements = [s for s in sent if not s.lstrip().upper().startswith(("BEGIN", "COMMIT", "SELECT 1"))]
        if engine.dialect.name == "postgresql":
            # One round trip a request: the upsert and the read of the previous windows together.
            assert len(statements) == 2, statements
            with engine.connect() as connection:
                assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "off"
        else:
            assert len(statements) == 4, statements
        # The counts are committed: another engine on the database sees them at once.
        plain = ratelimit.Limit("cek_nik", 3, 86400)
        assert ratelimit.hit(engine, plain, "3171010101900001", now=now + 2) == 3
        with pytest.raises(ratelimit.RateLimitedError):
            ratelimit.hit(engine, plain, "3171010101900001", now=now + 3)
    finally:
        engine.dispose()
