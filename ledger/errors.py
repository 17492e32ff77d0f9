"""Domain errors of the ledger, each carrying the stable code clients see (SPEC §3) and a
message: a key of `ledger/messages.py` with its parameters, so that the API can say it in the
reader's language (`detail_in`) while the ledger stays free of HTTP."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from ledger.messages import ENGLISH, Language, field_detail, render


class LedgerError(Exception):
    """A rule of the ledger refused a command; nothing was recorded."""

    code: str = "validation_error"

    def __init__(self, message: str, /, **params: Any) -> None:
        self.message = message
        self.params = params
        super().__init__(message)

    def detail_in(self, language: Language, zone: tzinfo | None = None) -> str:
        """What went wrong, for people reading `language`, with times in `zone`."""
        return render(self.message, self.params, language, zone)

    @property
    def detail(self) -> str:
        """In English (the command line, logs)."""
        return self.detail_in(ENGLISH)

    def __str__(self) -> str:
        return self.detail


class ValidationError(LedgerError):
    """A command's content breaks a rule that no state can make right."""

    code = "validation_error"

    def __init__(self, field: str, message: str, /, **params: Any) -> None:
        super().__init__(message, **params)
        self.field = field

    def detail_in(self, language: Language, zone: tzinfo | None = None) -> str:
        return field_detail(self.field, render(self.message, self.params, language, zone), language)


class NotFoundError(LedgerError):
    code = "not_found"


class ForbiddenError(LedgerError):
    """The acting key's role or region scope does not allow the command."""

    code = "forbidden"


class InsufficientBalanceError(LedgerError):
    code = "insufficient_balance"


class OutOfStockError(LedgerError):
    code = "out_of_stock"


class StarLevelTooLowError(LedgerError):
    code = "star_level_too_low"


class TimebankNotOpenError(LedgerError):
    code = "timebank_not_open"


class TimebankAlreadyOpenError(LedgerError):
    code = "timebank_already_open"


class TimebankCapExceededError(LedgerError):
    code = "timebank_cap_exceeded"


class OverlappingServiceError(LedgerError):
    code = "overlapping_service"


class AlreadyReversedError(LedgerError):
    code = "already_reversed"


class NotReversibleError(LedgerError):
    code = "not_reversible"


class TransactionIdConflictError(LedgerError):
    """A client-chosen id is taken by something with different content."""

    code = "transaction_id_conflict"


class UnavailableError(LedgerError):
    """The store could not be reached, or contention outlasted every retry."""

    code = "unavailable"


class UnauthorizedError(LedgerError):
    """No key, an unknown key, or a revoked key."""

    code = "unauthorized"
