"""Lighthouse (npm), desktop, on every staff portal page a signed-in admin, compliance officer and
finance user can reach, on the embedded default in Debian's Chromium. Outside the test run (about
half a minute a page).

    npm install --prefix /tmp/lh lighthouse@12
    .venv/bin/python scripts/lighthouse_staff.py --lighthouse /tmp/lh/node_modules/.bin/lighthouse

It seeds a fresh SQLite database with `kibeti demo`, creates one staff user per role
(`kibeti staff create`), serves the app with uvicorn on a free port, signs each in through the form
(password and the authenticator code from its URI) and runs Lighthouse with that session's cookie
(--extra-headers). Exit status 1 when a page misses performance >= 90, accessibility >= 95 or best
practices >= 90."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pyotp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lighthouse_portals import ROOT, THRESHOLDS, _csrf, _free_port, _kibeti

PASSWORD = "Lighthouse-staff-2026!"  # noqa: S105 - a throwaway demo database's user
PAGES = {
    "admin": ["/staff", "/staff/customers", "/staff/merchants", "/staff/config", "/staff/audit"],
    "compliance": ["/staff/kyc", "/staff/cases", "/staff/limits"],
    "finance": ["/staff/payouts", "/staff/fx"],
}


def _staff_cookie(base: str, env: dict[str, str], role: str) -> str:
    email = f"lighthouse-{role}@kibeti.test"
    out = _kibeti(
        {**env, "KIBETI_STAFF_PASSWORD": PASSWORD}, "staff", "create", "--email", email, "--role", role
    )
    totp = pyotp.parse_uri(out.strip().splitlines()[-1])
    assert isinstance(totp, pyotp.TOTP)
    with httpx.Client(base_url=base, timeout=30) as http:
        form = http.get("/staff/sign-in")
        done = http.post(
            "/staff/sign-in",
            data={"csrf_token": _csrf(form.text), "email": email, "password": PASSWORD, "totp": totp.now()},
        )
        if done.status_code != 303:
            raise SystemExit(f"{role} sign-in failed: {done.status_code}")
        return f"kibeti_staff={http.cookies['kibeti_staff']}"


def _lighthouse(binary: str, url: str, cookie: str, out: Path) -> dict[str, float | None]:
    subprocess.run(  # noqa: S603 - the lighthouse binary the operator named
        [binary, url, "--quiet", "--preset=desktop", "--output=json", f"--output-path={out}",
         "--only-categories=performance,accessibility,best-practices",
         "--chrome-flags=--headless=new --no-sandbox", f"--extra-headers={json.dumps({'Cookie': cookie})}"],
        env={**os.environ, "CHROME_PATH": "/usr/bin/chromium"}, check=True, timeout=300,
    )  # fmt: skip
    report = json.loads(out.read_text())
    return {
        name: (None if c["score"] is None else round(c["score"] * 100))
        for name, c in report["categories"].items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lighthouse", default="lighthouse", help="the lighthouse binary (npm)")
    parser.add_argument("--keep", type=Path, default=None, help="a folder for the JSON reports")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kibeti-lighthouse-staff-"))
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
        print(f"{'page':<18} {'role':<11} {'perf':>5} {'a11y':>5} {'best':>5}")
        for role, paths in PAGES.items():
            cookie = _staff_cookie(base, env, role)
            for path in paths:
                name = path.strip("/").replace("/", "-")
                scores = _lighthouse(args.lighthouse, base + path, cookie, reports / f"{name}.json")
                misses = [k for k, floor in THRESHOLDS.items() if (scores.get(k) or 0) < floor]
                failed = failed or bool(misses)
                print(
                    f"{path:<18} {role:<11} {scores.get('performance')!s:>5} "
                    f"{scores.get('accessibility')!s:>5} {scores.get('best-practices')!s:>5}"
                    + (f"  MISSED: {', '.join(misses)}" if misses else "")
                )
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
