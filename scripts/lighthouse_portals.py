"""Lighthouse (npm) on the customer portal's main pages and the merchant invoice list, mobile, on
the embedded default in Debian's Chromium. Outside the test run (about a minute a page).

    npm install --prefix /tmp/lh lighthouse@11   # 11: the last with the PWA category (installable)
    .venv/bin/python scripts/lighthouse_portals.py --lighthouse /tmp/lh/node_modules/.bin/lighthouse

It seeds a fresh SQLite database with `kibeti demo`, serves the app with uvicorn on a free port,
signs the demo customer in (the code from the simulated SMS) and a new dashboard owner of the demo
merchant (`kibeti merchant-user add`, the authenticator code from its URI), then runs Lighthouse
with each session's cookie. Exit status 1 when a page misses performance >= 90, accessibility
>= 95, best practices >= 90 or (for /app) PWA installability."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import httpx
import pyotp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lighthouse_runner import arguments, category_scores, csrf, demo_server, kibeti, misses, run_lighthouse

CUSTOMER = "+254700000001"  # the demo's Amina
APP_PAGES = ["/app/", "/app/receive", "/app/buy", "/app/history", "/app/account", "/app/sign-in"]
MERCHANT_PAGES = ["/merchant/"]


def _customer_cookie(base: str) -> str:
    with httpx.Client(base_url=base, timeout=30) as http:
        form = http.get("/app/sign-in")
        asked = http.post("/app/sign-in", data={"csrf_token": csrf(form.text), "phone": CUSTOMER})
        asked.raise_for_status()
        code = ""
        for _ in range(100):
            messages = http.get("/simulator/phone/sms", params={"phone": CUSTOMER}).json()["messages"]
            codes = [re.search(r"\b(\d{6})\b", str(m.get("message", m.get("text", "")))) for m in messages]
            found = [c.group(1) for c in codes if c]
            if found:
                code = found[-1]
                break
            time.sleep(0.2)
        done = http.post(
            "/app/sign-in/code", data={"csrf_token": csrf(asked.text), "phone": CUSTOMER, "otp": code}
        )
        if done.status_code != 303:
            raise SystemExit(f"customer sign-in failed: {done.status_code}")
        return f"kibeti_app={http.cookies['kibeti_app']}"


def _merchant_cookie(base: str, env: dict[str, str]) -> str:
    out = kibeti(env, "merchant-user", "add", "--merchant", "1", "--email", "lighthouse@demo.test")
    password = re.search(r"password: (\S+)", out)
    uri = re.search(r"authenticator: (\S+)", out)
    assert password and uri, out
    totp = pyotp.parse_uri(uri.group(1))
    assert isinstance(totp, pyotp.TOTP)
    with httpx.Client(base_url=base, timeout=30) as http:
        form = http.get("/merchant/sign-in")
        done = http.post(
            "/merchant/sign-in",
            data={"csrf_token": csrf(form.text), "email": "lighthouse@demo.test",
                  "password": password.group(1), "totp": totp.now()},
        )  # fmt: skip
        if done.status_code != 303:
            raise SystemExit(f"merchant sign-in failed: {done.status_code}")
        return f"kibeti_merchant={http.cookies['kibeti_merchant']}"


def _lighthouse(binary: str, url: str, cookie: str, out: Path) -> dict[str, float | None]:
    categories = "performance,accessibility,best-practices,pwa"
    report = run_lighthouse(binary, url, cookie, out, f"--only-categories={categories}")
    scores = category_scores(report)
    scores["installable"] = report["audits"].get("installable-manifest", {}).get("score")
    return scores


def main() -> int:
    args = arguments(__doc__.split("\n")[0])
    failed = False
    with demo_server("kibeti-lighthouse-") as server:
        reports = args.keep or server.work
        reports.mkdir(parents=True, exist_ok=True)
        customer, merchant = _customer_cookie(server.base), _merchant_cookie(server.base, server.env)
        pages = [(p, customer) for p in APP_PAGES] + [(p, merchant) for p in MERCHANT_PAGES]
        print(f"{'page':<16} {'perf':>5} {'a11y':>5} {'best':>5} {'pwa installable':>16}")
        for path, cookie in pages:
            name = path.strip("/").replace("/", "-") or "root"
            scores = _lighthouse(args.lighthouse, server.base + path, cookie, reports / f"{name}.json")
            missed = misses(scores)
            if path.startswith("/app/") and scores.get("installable") != 1:
                missed.append("installable")
            failed = failed or bool(missed)
            installable = "yes" if scores.get("installable") == 1 else "no"
            print(
                f"{path:<16} {scores.get('performance')!s:>5} {scores.get('accessibility')!s:>5} "
                f"{scores.get('best-practices')!s:>5} {installable:>16}"
                + (f"  MISSED: {', '.join(missed)}" if missed else "")
            )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
