"""Exceptions raised by tierroute. Third-party errors are wrapped where they enter.

The tree::

    TierrouteError
    ├── ConfigError                 bad configuration file or setting (names the key)
    ├── DataError                   unreadable or invalid labeled data
    │   └── ValidationFailed        one or more bad rows; carries every RowIssue
    ├── ModelError
    │   ├── ModelNotFound           no artifact at the path / no champion yet
    │   ├── IntegrityError          artifact sha256 differs from its model card
    │   └── VersionMismatch         artifact built with other library versions
    └── GatewayError                serving and upstream dispatch (see tierroute.gateway)

The CLI maps these to exit codes and messages; the service maps them to HTTP status codes in
one place (tierroute.service.errors).
"""

from __future__ import annotations

from dataclasses import dataclass


class TierrouteError(Exception):
    """Base of every error tierroute raises on purpose."""


class ConfigError(TierrouteError):
    """Configuration that cannot be used; the message names the offending key."""


class DataError(TierrouteError):
    """Labeled data that cannot be read."""


@dataclass(frozen=True)
class RowIssue:
    """One problem with one input row: where it is and what is wrong."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class ValidationFailed(DataError):
    """Rows failed validation; ``issues`` lists every one of them."""

    def __init__(self, issues: list[RowIssue]) -> None:
        self.issues = issues
        shown = "\n".join(f"  {issue}" for issue in issues[:20])
        more = f"\n  ... and {len(issues) - 20} more" if len(issues) > 20 else ""
        super().__init__(f"{len(issues)} invalid row(s):\n{shown}{more}")


class ModelError(TierrouteError):
    """A model artifact that cannot be loaded or used."""


class ModelNotFound(ModelError):
    """No model artifact where one was expected."""


class IntegrityError(ModelError):
    """The artifact's sha256 does not match its model card: refuse to unpickle it."""


class VersionMismatch(ModelError):
    """The artifact was built with library versions other than the installed ones."""


class GatewayError(TierrouteError):
    """Base for errors while serving or dispatching requests (see tierroute.gateway)."""
