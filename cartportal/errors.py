"""The one application error and the one table from its code to an HTTP status.

Services raise `AppError` (or a domain's subclass) with a code; the API's exception handler and the pages'
middleware both answer with `status_for(code)`. Anything else that escapes a view is a programming error: a 500
that is logged, never a 400.
"""

from __future__ import annotations

STATUS_BY_CODE: dict[str, int] = {
    "invalid": 400,  # the input breaks a rule; the message says which
    "not_found": 404,  # missing, or in a region the caller may not see (the same answer)
    "forbidden": 403,  # the caller sees the object but lacks the capability
    "permission_denied": 403,
    "conflict": 409,  # not possible in the current state (already active, nothing to roll back to)
    "invalid_state": 409,  # a transition the state machine does not allow
    "kill_switch": 409,  # the global kill switch is engaged
    "too_large": 413,  # the request body is larger than CARTPORTAL_MAX_UPLOAD_BYTES
    "unavailable": 503,  # not available yet (no model trained)
}
DEFAULT_STATUS = 400


def status_for(code: str) -> int:
    return STATUS_BY_CODE.get(code, DEFAULT_STATUS)


class AppError(Exception):
    """A rule of the application refused the action; `message` is for the user, `code` chooses the status."""

    default_code = "invalid"

    def __init__(self, message: str, code: str | None = None, *, fields: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.fields = fields or {}

    @property
    def status(self) -> int:
        return status_for(self.code)


class DomainError(AppError):
    """A rule of a domain refused the action (the name the services have always raised)."""


class Forbidden(DomainError):
    """The caller may see the object but lacks the capability for this action (403)."""

    default_code = "forbidden"
