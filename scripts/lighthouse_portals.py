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

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pyotp

ROOT = Path(__file__).resolve().parents[1]
CUSTOMER = "+254700000001"  # the demo's Amina
APP_PAGES = ["/app/", "/app/receive", "/app/buy", "/app/history", "/app/account", "/app/sign-in"]
MERCHANT_PAGES = ["/merchant/"]
THRESHOLDS = {"performance": 90, "accessibility": 95, "best-practices": 90}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _kibeti(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-c", "from webapp.cli import main; main()", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"kibeti {' '.join(args)} failed: {done.stdout}\n{done.stderr}")
    return done.stdout


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if not found:
        raise SystemExit("no CSRF token on the sign-in page")
    return found.group(1)


def _customer_cookie(base: str) -> str:
    with httpx.Client(base_url=base, timeout=30) as http:
        form = http.get("/app/sign-in")
        asked = http.post("/app/sign-in", data={"csrf_token": _csrf(form.text), "phone": CUSTOMER})
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
            "/app/sign-in/code", data={"csrf_token": _csrf(asked.text), "phone": CUSTOMER, "otp": code}
        )
        if done.status_code != 303:
            raise SystemExit(f"customer sign-in failed: {done.status_code}")
        return f"kibeti_app={http.cookies['kibeti_app']}"


def _merchant_cookie(base: str, env: dict[str, str]) -> str:
    out = _kibeti(env, "merchant-user", "add", "--merchant", "1", "--email", "lighthouse@demo.test")
    password = re.search(r"password: (\S+)", out)
    uri = re.search(r"authenticator: (\S+)", out)
    assert password and uri, out
    totp = pyotp.parse_uri(uri.group(1))
    assert isinstance(totp, pyotp.TOTP)
    with httpx.Client(base_url=base, timeout=30) as http:
        form = http.get("/merchant/sign-in")
        done = http.post(
            "/merchant/sign-in",
            data={"csrf_token": _csrf(form.text), "email": "lighthouse@demo.test",
                  "password": password.group(1), "totp": totp.now()},
        )  # fmt: skip
        if done.status_code != 303:
            raise SystemExit(f"merchant sign-in failed: {done.status_code}")
        return f"kibeti_merchant={http.cookies['kibeti_merchant']}"


def _lighthouse(binary: str, url: str, cookie: str, out: Path) -> dict[str, float | None]:
    categories = "performance,accessibility,best-practices,pwa"
    subprocess.run(  # noqa: S603 - the lighthouse binary the operator named
        [binary, url, "--quiet", "--output=json", f"--output-path={out}", f"--only-categories={categories}",
         "--chrome-flags=--headless=new --no-sandbox", f"--extra-headers={json.dumps({'Cookie': cookie})}"],
        env={**os.environ, "CHROME_PATH": "/usr/bin/chromium"}, check=True, timeout=300,
    )  # fmt: skip
    report = json.loads(out.read_text())
    scores: dict[str, float | None] = {
        name: (None if c["score"] is None else round(c["score"] * 100))
        for name, c in report["categories"].items()
    }
    installable = report["audits"].get("installable-manifest", {}).get("score")
    scores["installable"] = installable
    return scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lighthouse", default="lighthouse", help="the lighthouse binary (npm)")
    parser.add_argument("--keep", type=Path, default=None, help="a folder for the JSON reports")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kibeti-lighthouse-"))
    reports = args.keep or work
    reports.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{work}/kibeti.db", "REDIS_URL": "",
           "MPESA_BASE_URL": "", "MPESA_CALLBACK_BASE_URL": base, "AT_BASE_URL": "",
           "DATA_DIR": str(work)}  # fmt: skip
    _kibeti(env, "db", "upgrade")
    _kibeti(env, "demo")
    server = subprocess.Popen(  # noqa: S603 - our own app
        [sys.executable, "-m", "uvicorn", "webapp.main:app", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    failed = False
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        customer, merchant = _customer_cookie(base), _merchant_cookie(base, env)
        pages = [(p, customer) for p in APP_PAGES] + [(p, merchant) for p in MERCHANT_PAGES]
        print(f"{'page':<16} {'perf':>5} {'a11y':>5} {'best':>5} {'pwa installable':>16}")
        for path, cookie in pages:
            name = path.strip("/").replace("/", "-") or "root"
            scores = _lighthouse(args.lighthouse, base + path, cookie, reports / f"{name}.json")
            misses = [k for k, floor in THRESHOLDS.items() if (scores.get(k) or 0) < floor]
            if path.startswith("/app/") and scores.get("installable") != 1:
                misses.append("installable")
            failed = failed or bool(misses)
            installable = "yes" if scores.get("installable") == 1 else "no"
            print(
                f"{path:<16} {scores.get('performance')!s:>5} {scores.get('accessibility')!s:>5} "
                f"{scores.get('best-practices')!s:>5} {installable:>16}"
                + (f"  MISSED: {', '.join(misses)}" if misses else "")
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
