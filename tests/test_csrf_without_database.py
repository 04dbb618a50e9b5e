"""The CSRF check reads no database: under load, a middleware waiting for a pooled connection while the
requests holding the pool waited for its worker thread deadlocked a server (found by dtsen bench serve)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from dtsen.api import errors as api_errors
from dtsen.auth.csrf import csrf_token_for, session_token_csrf
from dtsen.auth.install import install


def _app() -> FastAPI:
    app = FastAPI()
    # any connection attempt fails at once: a middleware that touched the database would answer 500
    app.state.engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    app.state.secret_key = "test-secret-key-not-for-production"  # noqa: S105
    api_errors.install(app)
    install(app)

    @app.post("/uji")
    def accepted() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/token")
    def token(request: Request) -> dict[str, str]:
        return {"token": csrf_token_for(request)}

    return app


def test_signed_in_post_is_checked_without_the_database() -> None:
    with TestClient(_app(), base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        client.cookies.set("dtsen_session", "a-session-token")
        assert client.post("/uji", data={"csrf_token": "salah"}).status_code == 403
        assert client.post("/uji", data={}).status_code == 403
        rendered = client.get("/token").json()["token"]
        assert rendered == session_token_csrf("a-session-token")
        assert client.post("/uji", data={"csrf_token": rendered}).json() == {"ok": True}
        # another session's token is not this one's
        other = session_token_csrf("another-session")
        assert client.post("/uji", data={"csrf_token": other}).status_code == 403


def test_session_token_is_not_the_session_id() -> None:
    from dtsen.auth.sessions import session_id

    assert session_token_csrf("t") != session_id("t")
    assert len(session_token_csrf("t")) == 43
