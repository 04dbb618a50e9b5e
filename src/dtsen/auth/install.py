"""Wire identity into an app: the CSRF middleware and the handler that answers identity refusals.

Call :func:`install` in the app factory *before* adding the web shell's middleware, so the shell's body
cap and security headers wrap the CSRF check (Starlette runs the middleware added last outermost).
"""

from __future__ import annotations

from fastapi import FastAPI

from dtsen.auth.csrf import CSRFMiddleware
from dtsen.auth.errors import AuthError, auth_error_handler


def install(app: FastAPI) -> None:
    app.add_exception_handler(AuthError, auth_error_handler)
    app.add_middleware(CSRFMiddleware)
