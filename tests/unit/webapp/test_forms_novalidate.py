"""Every portal form the user fills in and posts says `novalidate`: its fields carry `required` and
friends (b7e3f4d), and without it the browser stops the form with a bubble in the browser's own
language, so the server's en/sw message never shows (tests/e2e/browser/test_server_messages_browser
drives three of them in Chromium). Button-only forms and GET filters keep native behaviour."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3] / "webapp"
FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S)
FIELD = re.compile(
    r"""\{\{\s*(field|textarea|select)\(|<textarea\b|<select\b|<input\b(?![^>]*type="hidden")""", re.S
)


def _forms() -> list[tuple[str, str, str]]:
    found = []
    for template in sorted(ROOT.glob("**/templates/**/*.html")):
        for match in FORM.finditer(template.read_text()):
            found.append((str(template.relative_to(ROOT)), match.group(1), match.group(2)))
    return found


def test_posted_forms_with_fields_say_novalidate() -> None:
    forms = _forms()
    assert len(forms) > 40  # the scan sees the portals' templates
    missing = [
        f"{path}: <form{attrs}>"
        for path, attrs, body in forms
        if 'method="post"' in attrs and FIELD.search(body) and "novalidate" not in attrs
    ]
    assert not missing, missing
