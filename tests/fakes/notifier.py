"""The fake of core.ports.Notifier: records every SMS instead of sending it (send_sms only: core
falls back to it for a notifier without send_secret_sms, as the old per-file fakes did)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, overload


class Sms(NamedTuple):
    """One recorded SMS: unpacks as (phone, text, reference) and reads as sms.text or sms["text"]."""

    phone: str
    text: str
    reference: str

    @overload  # type: ignore[override]
    def __getitem__(self, key: str) -> str: ...
    @overload
    def __getitem__(self, key: int) -> str: ...
    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return getattr(self, key)
        return tuple.__getitem__(self, key)


@dataclass
class FakeNotifier:
    sent: list[Sms] = field(default_factory=list)

    async def send_sms(self, *, phone: str, text: str, reference: str) -> None:
        self.sent.append(Sms(phone, text, reference))

    def texts_to(self, phone: str) -> list[str]:
        return [sms.text for sms in self.sent if sms.phone == phone]

    def last_code(self) -> str:
        """The digits of the last SMS (a one-time code)."""
        return "".join(ch for ch in self.sent[-1].text if ch.isdigit())[:6]
