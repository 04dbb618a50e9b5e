"""The DCI error and reason codes, and the one exception every DCI refusal is raised as.

Two kinds, as the spec separates them: ``err.*`` codes are transport/authentication errors answered with
an HTTP 4xx and the spec's ``HttpErrorResponse`` body (``{"errors": [{"code", "message"}]}``); ``rjct.*``
codes are business rejections answered inside a signed 200 envelope (``header.status = "rjct"`` with
``status_reason_code``, or per search item). Messages are plain English machine text: they go to other
systems, not to people, and never carry a NIK.
"""

from __future__ import annotations

from typing import Any

# components/schemas/Error/properties/code (identical in the Social Registry and registry core specs).
TRANSPORT_CODES = frozenset(
    {
        "err.request.bad",
        "err.request.unauthorized",
        "err.request.forbidden",
        "err.request.not_found",
        "err.request.timeout",
        "err.version.not_supported",
        "err.request.too_many_requests",
        "err.sender_id.invalid",
        "err.sender_uri.invalid",
        "err.receiver_id.invalid",
        "err.signature.missing",
        "err.signature.invalid",
        "err.encryption.invalid",
        "err.service.unavailable",
    }
)
# MsgHeaderStatusReasonCode: what header.status_reason_code of a reply may say.
HEADER_REASON_CODES = frozenset(
    {
        "rjct.version.invalid",
        "rjct.message_id.duplicate",
        "rjct.message_ts.invalid",
        "rjct.action.invalid",
        "rjct.action.not_supported",
        "rjct.total_count.invalid",
        "rjct.total_count.limit_exceeded",
        "rjct.errors.too_many",
    }
)
# SearchStatusReasonCode: what one search_response item's status_reason_code may say.
SEARCH_REASON_CODES = frozenset(
    {
        "rjct.reference_id.invalid",
        "rjct.reference_id.duplicate",
        "rjct.timestamp.invalid",
        "rjct.search_criteria.invalid",
        "rjct.filter.invalid",
        "rjct.sort.invalid",
        "rjct.pagination.invalid",
        "rjct.search.too_many_records_found",
    }
)
# The registry core (CRVS) spec's subscribe/notify reason codes (used by dtsen.sharing.dci notify/subscribe).
CRVS_REASON_CODES = frozenset(
    {
        "rjct.event.already_subscribed",
        "rjct.event.already_unsubscribed",
        "rjct.notify_details.invalid",
        "rjct.notify_types.invalid",
        "rjct.person_id.invalid",
        "rjct.requester.invalid",
        "rjct.subscription_code.invalid",
    }
)
KNOWN_CODES = TRANSPORT_CODES | HEADER_REASON_CODES | SEARCH_REASON_CODES | CRVS_REASON_CODES

# The HTTP status a transport error is answered with when the raiser does not say otherwise.
TRANSPORT_STATUS: dict[str, int] = {
    "err.request.bad": 400,
    "err.request.unauthorized": 401,
    "err.request.forbidden": 403,
    "err.request.not_found": 404,
    "err.request.timeout": 408,
    "err.version.not_supported": 400,
    "err.request.too_many_requests": 429,
    "err.sender_id.invalid": 403,
    "err.sender_uri.invalid": 400,
    "err.receiver_id.invalid": 400,
    "err.signature.missing": 401,
    "err.signature.invalid": 401,
    "err.encryption.invalid": 400,
    "err.service.unavailable": 503,
}
MAX_MESSAGE_LENGTH = 999  # the spec's maxLength of Error.message and status_reason_message


class DciError(Exception):
    """A DCI refusal: ``code`` is a spec code (``err.*`` transport/auth, ``rjct.*`` business),
    ``message`` a short English machine message, ``http_status`` the status a transport error gets."""

    def __init__(self, code: str, message: str, http_status: int = 400) -> None:
        if code not in KNOWN_CODES:
            raise ValueError(f"not a DCI spec code: {code!r}")
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message[:MAX_MESSAGE_LENGTH]
        self.http_status = http_status

    @classmethod
    def transport(cls, code: str, message: str) -> DciError:
        """A transport error with the status :data:`TRANSPORT_STATUS` gives its code."""
        return cls(code, message, TRANSPORT_STATUS.get(code, 400))

    def http_body(self) -> dict[str, Any]:
        """The spec's HttpErrorResponse body."""
        return {"errors": [{"code": self.code, "message": self.message}]}
