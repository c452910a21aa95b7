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

import sys
from pathlib import Path

import httpx
import pyotp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lighthouse_runner import arguments, category_scores, csrf, demo_server, kibeti, misses, run_lighthouse

PASSWORD = "Lighthouse-staff-2026!"  # noqa: S105 - a throwaway demo database's user
PAGES = {
    "admin": ["/staff", "/staff/customers", "/staff/merchants", "/staff/config", "/staff/audit"],
    "compliance": ["/staff/kyc", "/staff/cases", "/staff/limits"],
    "finance": ["/staff/payouts", "/staff/fx"],
}


def _staff_cookie(base: str, env: dict[str, str], role: str) -> str:
    email = f"lighthouse-{role}@kibeti.test"
    out = kibeti(
        {**env, "KIBETI_STAFF_PASSWORD": PASSWORD}, "staff", "create", "--email", email, "--role", role
    )
    totp = pyotp.parse_uri(out.strip().splitlines()[-1])
    assert isinstance(totp, pyotp.TOTP)
    with httpx.Client(base_url=base, timeout=30) as http:
        form = http.get("/staff/sign-in")
        done = http.post(
            "/staff/sign-in",
            data={"csrf_token": csrf(form.text), "email": email, "password": PASSWORD, "totp": totp.now()},
        )
        if done.status_code != 303:
            raise SystemExit(f"{role} sign-in failed: {done.status_code}")
        return f"kibeti_staff={http.cookies['kibeti_staff']}"


def _lighthouse(binary: str, url: str, cookie: str, out: Path) -> dict[str, float | None]:
    categories = "--only-categories=performance,accessibility,best-practices"
    return category_scores(run_lighthouse(binary, url, cookie, out, "--preset=desktop", categories))


def main() -> int:
    args = arguments(__doc__.split("\n")[0])
    failed = False
    with demo_server("kibeti-lighthouse-staff-") as server:
        reports = args.keep or server.work
        reports.mkdir(parents=True, exist_ok=True)
        print(f"{'page':<18} {'role':<11} {'perf':>5} {'a11y':>5} {'best':>5}")
        for role, paths in PAGES.items():
            cookie = _staff_cookie(server.base, server.env, role)
            for path in paths:
                name = path.strip("/").replace("/", "-")
                scores = _lighthouse(args.lighthouse, server.base + path, cookie, reports / f"{name}.json")
                missed = misses(scores)
                failed = failed or bool(missed)
                print(
                    f"{path:<18} {role:<11} {scores.get('performance')!s:>5} "
                    f"{scores.get('accessibility')!s:>5} {scores.get('best-practices')!s:>5}"
                    + (f"  MISSED: {', '.join(missed)}" if missed else "")
                )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
