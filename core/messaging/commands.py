"""What a customer can text to the shortcode: BAL, HELP, STOP, START, in English and Swahili."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Command(StrEnum):
    BALANCE = "balance"
    HELP = "help"
    STOP = "stop"  # marketing opt-out; receipts and codes still come
    START = "start"
    UNKNOWN = "unknown"


# keyword -> (command, the language the keyword is in)
KEYWORDS: dict[str, tuple[Command, str]] = {
    "BAL": (Command.BALANCE, "en"),
    "BALANCE": (Command.BALANCE, "en"),
    "SALIO": (Command.BALANCE, "sw"),
    "HELP": (Command.HELP, "en"),
    "MSAADA": (Command.HELP, "sw"),
    "STOP": (Command.STOP, "en"),
    "ACHA": (Command.STOP, "sw"),
    "START": (Command.START, "en"),
    "ANZA": (Command.START, "sw"),
}


@dataclass(frozen=True)
class ParsedSms:
    command: Command
    language: str | None  # the keyword's language; None when no keyword matched


def parse(text: str) -> ParsedSms:
    """The first word decides, in any case, with accents, punctuation and emoji ignored."""
    folded = unicodedata.normalize("NFKD", text[:200])
    words = "".join(ch if ch.isalnum() else " " for ch in folded if not unicodedata.combining(ch)).split()
    if not words:
        return ParsedSms(Command.HELP, None)
    found = KEYWORDS.get(words[0].upper())
    if found is None:
        return ParsedSms(Command.UNKNOWN, None)
    return ParsedSms(found[0], found[1])
