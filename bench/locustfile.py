"""Mixed traffic for a local Kibeti stack (issue 21 item 8): `make load` runs it headless.

Each simulated customer is a new phone number that registers over USSD exactly as Africa's Talking
posts it (language, name, ID, date of birth, terms, PIN twice), tops up KES through the M-Pesa
paybill simulator (the callback path: validation, confirmation, Daraja's status answer), then
keeps using the menu with a realistic mix: mostly balance checks, then rates and statements, buys by
M-Pesa STK push (the simulator approves and calls back), sends to other customers, sells and cash-outs
(B2C payouts through the payout pipeline).

    locust -f bench/locustfile.py --headless -u 30 -r 5 -t 1m --host http://127.0.0.1:8000

Every request is a real hop into the app; a reply that is not CON/END, or a 5xx, counts as a
failure. AT_CALLBACK_TOKEN must match the server's (the embedded default's unless set).
"""

from __future__ import annotations

import itertools
import os
import random
import threading

from locust import HttpUser, between, task

TOKEN = os.environ.get("AT_CALLBACK_TOKEN", "dev-at-callback-token")
PIN = "7391"
SERVICE_CODE = "*483*1#"
_numbers = itertools.count(random.SystemRandom().randrange(10_000, 90_000) * 1000)
_lock = threading.Lock()
_registered: list[str] = []


def _next_phone() -> str:
    with _lock:
        return f"+2547{20_000_000 + next(_numbers) % 79_999_999:08d}"


class UssdCustomer(HttpUser):
    wait_time = between(1, 4)  # a person reading a screen and pressing keys

    def on_start(self) -> None:
        self.phone = _next_phone()
        self.sessions = itertools.count(1)
        national_id = str(random.randrange(20_000_000, 39_999_999))
        keys = ["1", "Load Tester", national_id, "01011990", "1", PIN, PIN]
        self.journey(keys, name="register")
        self.client.post(
            "/simulator/phone/paybill", json={"phone": self.phone, "amount": "1000"}, name="paybill top-up"
        )
        with _lock:
            _registered.append(self.phone)

    def journey(self, keys: list[str], *, name: str) -> None:
        """One USSD session: the first dial, then one hop per key, as AT sends them."""
        session_id = f"load-{self.phone[-8:]}-{next(self.sessions)}"
        for depth in range(len(keys) + 1):
            text = "*".join(keys[:depth])
            with self.client.post(
                f"/ussd/{TOKEN}",
                data={
                    "sessionId": session_id,
                    "serviceCode": SERVICE_CODE,
                    "phoneNumber": self.phone,
                    "networkCode": "63902",
                    "text": text,
                },
                name=f"ussd {name}",
                catch_response=True,
            ) as response:
                body = response.text or ""
                if response.status_code != 200 or not body.startswith(("CON ", "END ")):
                    response.failure(f"{response.status_code} {body[:60]!r}")
                    return
                if body.startswith("END "):
                    return

    @task(40)
    def balances(self) -> None:
        self.journey(["1"], name="balances")

    @task(10)
    def rates(self) -> None:
        self.journey(["8"], name="rates")

    @task(10)
    def statement(self) -> None:
        self.journey(["7"], name="statement")

    @task(15)
    def buy_by_mpesa(self) -> None:
        self.journey(["2", "3", "1", "200", PIN], name="buy USDT-TRC20 by STK")

    @task(10)
    def send_kes(self) -> None:
        with _lock:
            others = [p for p in _registered if p != self.phone]
        if not others:
            return
        recipient = "0" + random.choice(others)[-9:]
        self.journey(["4", "1", recipient, "1", "20", PIN], name="send KES")

    @task(10)
    def sell_by_kes_value(self) -> None:
        self.journey(["3", "3", "2", "50", PIN], name="sell USDT-TRC20 for KES 50")

    @task(5)
    def cash_out(self) -> None:
        self.journey(["5", "100", PIN], name="cash out KES 100 (B2C)")

    @task(5)
    def paybill(self) -> None:
        self.client.post(
            "/simulator/phone/paybill", json={"phone": self.phone, "amount": "100"}, name="paybill top-up"
        )
