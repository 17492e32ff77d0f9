"""Domain errors of the ledger, each carrying the stable code clients see (SPEC §3)."""

from __future__ import annotations


class LedgerError(Exception):
    """A rule of the ledger refused a command; nothing was recorded."""

    code: str = "validation_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ValidationError(LedgerError):
    """A command's content breaks a rule that no state can make right."""

    code = "validation_error"

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field


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
