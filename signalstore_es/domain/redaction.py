"""Keeping credentials out of messages: every error text that may hold a URL goes through here."""

from __future__ import annotations

import re

_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)[^@/\s]*@")


def scrub(text: str) -> str:
    """``text`` with any ``scheme://user:password@`` reduced to ``scheme://***@``."""
    return _CREDENTIALS.sub(r"\g<scheme>***@", text)
