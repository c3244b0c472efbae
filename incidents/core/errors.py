"""Domain errors. The API maps them to 4xx answers, the admin to error messages."""


class DomainError(Exception):
    """A refused operation; `str(error)` is a sentence meant for the person who tried it."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class IllegalTransition(DomainError):
    """The incident cannot move from its current status to the one asked for."""

    status_code = 409
