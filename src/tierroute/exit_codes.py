"""The command line's exit codes: one table, one mapping from our exceptions to it.

========  =====================================================================================
code      meaning
========  =====================================================================================
0         success
1         a file could not be read or written (permissions, disk full), or another error of ours
2         bad command line: unknown option, value out of range, output path that is a directory,
          output that would overwrite an input (click's usage-error code)
3         bad input data: a row that fails validation (file:line: field: problem), a file that is
          not UTF-8 (file, line, byte offset), an empty data file, a missing request log
4         model problem: no model or champion, a tampered artifact (sha256), other library
          versions, a model id outside the models root
5         configuration problem: a bad config file or key, a config whose tiers do not cover the
          model's, an unsupported (mysql://) or unreachable request-log database
6         ``data check-overlap`` found evaluation texts that are near-copies of training texts
========  =====================================================================================
"""

from __future__ import annotations

from enum import IntEnum

from tierroute.exceptions import ConfigError, DataError, ModelError, TierrouteError


class ExitCode(IntEnum):
    """What a ``tierroute`` process exit status means (see the module docstring)."""

    OK = 0
    FAILURE = 1
    USAGE = 2
    DATA = 3
    MODEL = 4
    CONFIG = 5
    NEAR_COPIES = 6


# Most specific first: the first matching type decides.
_BY_ERROR: tuple[tuple[type[TierrouteError], ExitCode], ...] = (
    (DataError, ExitCode.DATA),
    (ModelError, ExitCode.MODEL),
    (ConfigError, ExitCode.CONFIG),
)


def exit_code_for(error: BaseException) -> ExitCode:
    """The exit code of an error raised by tierroute (FAILURE for anything else)."""
    for kind, code in _BY_ERROR:
        if isinstance(error, kind):
            return code
    return ExitCode.FAILURE
