"""Cek Status through the real app and the real registry, on SQLite and PostgreSQL: found, not ranked,
the one uniform miss (unknown NIK, wrong name, outside the served data), malformed input, rate limits
per network and per NIK, the challenge, and why enumerating NIKs does not work."""

from __future__ import annotations

import functools
import inspect
import re
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dtsen.api import challenge, public, ratelimit
from dtsen.store import audit
from dtsen.workflows import intake
from public_world import (
    BUDI,
    DESA,
    LAMA,
    RINA,
    SITI,
    UNKNOWN_NIK,
    client_for,
    form_fields,
    hasil,
    make_app,
    reset_limits,
    seed,
    stable,
)


@pytest.fixture(scope="module")
def app(engine: Engine, db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    seed(engine)
    created = make_app(db_url, tmp_path_factory.mktemp("uploads"))
    yield created
    created.state.engine.dispose()


@pytest.fixture(autouse=True)
def _fresh_limits(engine: Engine) -> None:
    reset_limits(engine)


def check(client: Any, **fields: str) -> Any:
    return client.post("/cek-status", data={**form_fields(client, "/cek-status"), **fields})


def test_found_by_nik_shows_the_masked_answer_and_is_audited(engine: Engine, app: Any) -> None:
    client = client_for(app, "10.30.0.1")
    with Session(engine) as session:
        before = len(audit.trail_for(session, SITI.nik))
    response = check(client, cara="nik", nik=SITI.nik, nama="siti aminah")
    assert response.status_code == 200, response.text[:2000]
    text = response.text
    assert hasil(text) == "ditemukan"
    assert "SI** AM****" in text
    assert "SITI AMINAH" not in text
    assert SITI.nik not in text
    assert "Desil 2 dari 10" in text
    assert "Program Keluarga Harapan" in text
    assert "750.000" in text
    assert "Lantai tanah menurunkan perkiraan pengeluaran" in text
    assert "Sangat yakin" in text
    assert "DTSEN triwulan 2 tahun 2026" in text
    assert 'href="/sanggah"' in text
    with Session(engine) as session:
        trail = audit.trail_for(session, SITI.nik)
    assert len(trail) == before + 1
    assert (trail[-1].actor, trail[-1].action, trail[-1].purpose) == ("public:publik", "read", "cek_status")


def test_found_by_region_and_name(app: Any) -> None:
    client = client_for(app, "10.30.0.2")
    response = check(
        client, cara="wilayah", prov="34", kab="3471", kec="347101", desa=DESA, nama="Budi Santoso"
    )
    assert hasil(response.text) == "ditemukan"
    assert "BU** SA*****" in response.text
    assert "Desil 7 dari 10" in response.text
    assert "tidak tercatat sebagai calon penerima" in response.text


def test_unranked_family_gets_the_reason_in_plain_words(app: Any) -> None:
    response = check(client_for(app, "10.30.0.3"), cara="nik", nik=RINA.nik, nama=RINA.nama)
    assert hasil(response.text) == "ditemukan"
    assert "Belum dapat diperingkat" in response.text
    assert "belum pernah dikumpulkan petugas" in response.text
    assert "Desil None" not in response.text


MISSES = {
    "unknown_nik": {"nik": UNKNOWN_NIK, "nama": SITI.nama},
    "wrong_name": {"nik": SITI.nik, "nama": "SITI AMINAH PUTRI"},
    "outside_the_data": {"nik": LAMA.nik, "nama": LAMA.nama},  # only in the older snapshot
}


def test_every_miss_gets_one_uniform_answer(app: Any) -> None:
    pages = {}
    for index, (case, fields) in enumerate(MISSES.items()):
        response = check(client_for(app, f"10.31.0.{index}"), cara="nik", **fields)
        assert response.status_code == 200, case
        assert hasil(response.text) == "tidak_ditemukan", case
        pages[case] = stable(response.text)
    # Byte for byte the same page once the per-request tokens are set aside.
    assert pages["unknown_nik"] == pages["wrong_name"] == pages["outside_the_data"]
    assert "SI**" not in pages["wrong_name"]


def _record_calls(monkeypatch: pytest.MonkeyPatch, calls: list[str], modules: list[types.ModuleType]) -> None:
    """Wrap every function of ``modules`` to log its name when called (module globals are looked up at
    call time, so calls between these functions are logged too)."""
    for module in modules:
        for name, function in list(vars(module).items()):
            if not inspect.isfunction(function) or function.__module__ != module.__name__:
                continue

            def wrapper(
                *args: Any,
                __f: Callable[..., Any] = function,
                __n: str = f"{module.__name__}.{name}",
                **kwargs: Any,
            ) -> Any:
                calls.append(__n)
                return __f(*args, **kwargs)

            functools.update_wrapper(wrapper, function)
            monkeypatch.setattr(module, name, wrapper)


def test_every_miss_takes_the_same_code_path(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same functions run, in the same order, whatever kind of miss it is: no path returns early.

    Covers the public router, the intake workflow, rate limits, the challenge, the registry and the audit
    module (every miss by NIK is audited, known NIK or not); the registry is asked exactly once with the
    same kinds of arguments. The timing itself is not measured.
    """
    from dtsen.store import citizen_check, person_names, registry

    sequences: dict[str, list[str]] = {}
    lookups: list[tuple[Any, ...]] = []
    original = citizen_check.citizen_status

    def spy(session: Any, nik: str | None, nama: str, kode_desa: str | None, **kwargs: Any) -> Any:
        lookups.append((type(nik), len(nik or ""), type(kode_desa)))
        return original(session, nik, nama, kode_desa, **kwargs)

    monkeypatch.setattr(citizen_check, "citizen_status", spy)
    for index, (case, fields) in enumerate(MISSES.items()):
        client = client_for(app, f"10.32.0.{index}")
        data = {**form_fields(client, "/cek-status"), "cara": "nik", **fields}
        calls: list[str] = []
        with monkeypatch.context() as patch:
            modules = [public, intake, ratelimit, challenge, registry, citizen_check, person_names, audit]
            _record_calls(patch, calls, modules)
            response = client.post("/cek-status", data=data)
        assert hasil(response.text) == "tidak_ditemukan"
        sequences[case] = calls
    assert sequences["unknown_nik"] == sequences["wrong_name"] == sequences["outside_the_data"]
    assert "dtsen.api.ratelimit.limit_key" in sequences["unknown_nik"]  # the NIK is hashed on every path
    assert "dtsen.store.audit.record" in sequences["unknown_nik"]  # and the attempt recorded on every path
    assert lookups == [(str, 16, type(None))] * 3


def test_malformed_nik_is_explained_and_counted(app: Any) -> None:
    client = client_for(app, "10.30.0.4")
    cases = {
        "12345": "harus 16 angka",
        "34710155058000AB": "hanya berisi angka",
        "9971015505800001": "kode wilayah",
        "3471019999800001": "bukan tanggal lahir",
        "": "wajib diisi",
    }
    for nik, message in cases.items():
        response = check(client, cara="nik", nik=nik, nama=SITI.nama)
        assert response.status_code == 422, nik
        assert message in response.text, nik
        assert 'aria-invalid="true"' in response.text
    odd_name = check(client, cara="nik", nik=SITI.nik, nama="<img src=x onerror=alert(1)>")
    assert odd_name.status_code == 422
    assert "<img src=x" not in odd_name.text
    no_desa = check(client, cara="wilayah", prov="34", nama=SITI.nama)
    assert no_desa.status_code == 422
    assert "Pilih provinsi" in no_desa.text
    # Malformed attempts count toward the per-network limit like any other.
    with Session(app.state.engine) as session:
        from dtsen.store.intake import RateLimitCounter

        hits = session.query(RateLimitCounter).filter_by(bucket="cek_ip").one().hits
    assert hits == len(cases) + 2


def test_a_thousand_guesses_from_one_network_are_refused_after_the_limit(app: Any) -> None:
    """Enumeration from one address: the first 60 attempts get answers (none found), the other 940 a 429
    with Retry-After, before any challenge or lookup is even looked at."""
    client = client_for(app, "10.33.0.1")
    limit = ratelimit.DEFAULT_LIMITS["cek_ip"].hits
    statuses: list[int] = []
    retry_after: set[str] = set()
    for serial in range(1, 1001):
        guess = f"347101550580{serial:04d}"
        name = "TEBAK " + "".join(chr(65 + int(digit)) for digit in str(serial))  # another name each time
        if len(statuses) < limit:
            response = check(client, cara="nik", nik=guess, nama=name)
        else:  # refused attempts need no fresh challenge: the limit is checked first
            response = client.post(
                "/cek-status", data={"cara": "nik", "nik": guess, "nama": name, **_csrf(client)}
            )
        statuses.append(response.status_code)
        if response.status_code == 429:
            retry_after.add(response.headers["retry-after"])
            if serial == limit + 1:
                assert "Terlalu banyak permintaan" in response.text
                assert "menit lagi" in response.text
        else:
            assert hasil(response.text) in {"tidak_ditemukan", "ditemukan"}
    assert statuses[:limit].count(429) == 0
    assert statuses[limit:] == [429] * (1000 - limit)
    assert all(int(value) > 0 for value in retry_after)


def test_walking_the_serials_of_one_name_is_stopped_across_networks(app: Any) -> None:
    """Someone who knows a name, a kecamatan and a birth date (the NIK's first 12 digits) and tries the
    9,999 serials from many addresses is stopped after 20 a day: the pattern is limited, not the address."""
    statuses = []
    for serial in range(2, 25):
        client = client_for(app, f"10.35.{serial}.1")
        statuses.append(
            check(client, cara="nik", nik=f"347101550580{serial:04d}", nama=SITI.nama).status_code
        )
    assert statuses[:20] == [200] * 20
    assert set(statuses[20:]) == {429}
    # Siti herself (serial 0001) is then also refused for the day: the price of the protection.
    assert check(client_for(app, "10.35.99.1"), cara="nik", nik=SITI.nik, nama=SITI.nama).status_code == 429


def _csrf(client: Any) -> dict[str, str]:
    return {"csrf_token": form_fields(client, "/lacak")["csrf_token"]}


def test_one_nik_is_limited_across_networks(app: Any) -> None:
    statuses = []
    for attempt in range(12):
        response = check(client_for(app, f"10.34.0.{attempt}"), cara="nik", nik=BUDI.nik, nama="BUDI SALAH")
        statuses.append(response.status_code)
    assert statuses == [200] * 10 + [429, 429]
    # Another NIK from the same networks is not affected.
    assert check(client_for(app, "10.34.0.0"), cara="nik", nik=SITI.nik, nama=SITI.nama).status_code == 200


def test_challenge_replay_and_expiry_are_refused(app: Any) -> None:
    client = client_for(app, "10.30.0.5")
    fields = {**form_fields(client, "/cek-status"), "cara": "nik", "nik": UNKNOWN_NIK, "nama": "A B"}
    assert client.post("/cek-status", data=fields).status_code == 200
    replay = client.post("/cek-status", data=fields)
    assert replay.status_code == 400
    assert "sudah pernah dikirim" in replay.text
    assert 'name="nama"' in replay.text
    assert 'value="A B"' in replay.text

    expired = challenge.issue("cek", app.state.challenge_settings, now=0)
    old = {
        **fields,
        "tantangan_token": expired.pow_token,
        "tantangan_nonce": challenge.solve(expired.pow_token, 10),
    }
    late = client.post("/cek-status", data=old)
    assert late.status_code == 400
    assert "terlalu lama dibuka" in late.text

    missing = client.post(
        "/cek-status", data={k: v for k, v in fields.items() if not k.startswith("tantangan")}
    )
    assert missing.status_code == 400


def test_no_javascript_question_path(app: Any, engine: Engine) -> None:
    client = client_for(app, "10.30.0.6")
    page = client.get("/cek-status").text
    question = re.search(r"berapa ([a-z]+) tambah ([a-z]+)\?", page)
    assert question is not None
    answer = challenge.NUMBER_WORDS.index(question.group(1)) + challenge.NUMBER_WORDS.index(question.group(2))
    token = re.search(r'name="soal_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = client.post(
        "/cek-status",
        data={
            "csrf_token": csrf,
            "cara": "nik",
            "nik": SITI.nik,
            "nama": SITI.nama,
            "soal_token": token,
            "soal_jawaban": str(answer),
        },
    )
    assert hasil(response.text) == "ditemukan"
    with Session(engine) as session:
        from dtsen.store.intake import RateLimitCounter

        assert session.query(RateLimitCounter).filter_by(bucket="tanya_ip").count() == 1


def test_region_children_for_the_cascading_selects(app: Any) -> None:
    client = client_for(app, "10.30.0.7")
    assert client.get("/wilayah").json() == [{"kode": "34", "nama": "DI YOGYAKARTA"}]
    assert {r["kode"] for r in client.get("/wilayah?induk=34").json()} == {"3471", "3404"}
    assert client.get("/wilayah?induk=347101").json() == [{"kode": DESA, "nama": "GEDONGKIWO"}]
    assert client.get("/wilayah?induk=3471011001").status_code == 422
    assert client.get("/wilayah?induk=x'--").status_code == 422
    # Without JavaScript, the form reloads with the next level's options.
    page = client.get("/cek-status?cara=wilayah&prov=34&kab=3471&kec=347101").text
    assert f'<option value="{DESA}">GEDONGKIWO</option>' in page
    stale = client.get("/cek-status?cara=wilayah&prov=34&kab=3404&kec=347101").text
    assert "GEDONGKIWO" not in stale  # a kecamatan outside the chosen kab/kota is dropped


def test_pages_are_public_and_old_links_redirect(app: Any) -> None:
    client = client_for(app, "10.30.0.8")
    for path in ("/cek-status", "/usul", "/sanggah", "/lacak", "/data-saya"):
        assert client.get(path).status_code == 200, path
    assert client.get("/cek").headers["location"] == "/cek-status"
    assert client.get("/siapa-membaca").headers["location"] == "/data-saya"
    for route in public.router.routes:
        assert any(getattr(d.call, "public", False) for d in route.dependant.dependencies), route.path  # type: ignore[attr-defined]


def test_form_without_csrf_token_is_refused(app: Any) -> None:
    client = client_for(app, "10.30.0.9")
    fields = form_fields(client, "/cek-status")
    fields.pop("csrf_token")
    response = client.post("/cek-status", data={**fields, "cara": "nik", "nik": SITI.nik, "nama": SITI.nama})
    assert response.status_code == 403
    assert "SI**" not in response.text


def test_messages_follow_the_language(app: Any) -> None:
    client = client_for(app, "10.30.0.10")
    client.cookies.set("lang", "en")
    response = check(client, cara="nik", nik="12345", nama=SITI.nama)
    assert response.status_code == 422
    assert "must be 16 digits." in response.text
    assert "Check status" in response.text
