"""Keep provider keys out of anything we log or send back.

A provider's own error text may quote the key it was given (OpenAI's 401 says "Incorrect API
key provided: sk-...."), so messages from upstream pass through ``scrub`` first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_KEY_LIKE = re.compile(
    r"(?i)\b(?:sk|pk|rk|key|api|or|ds)[-_][A-Za-z0-9_\-*.]{8,}"
    r"|bearer\s+\S+"
    r"|\b[A-Za-z0-9_\-]{32,}\b"
)
_MAX_CHARS = 300


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with the given secrets and anything key-shaped masked, shortened to 300 chars."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    text = _KEY_LIKE.sub("[redacted]", text)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_CHARS else text[: _MAX_CHARS - 3] + "..."
