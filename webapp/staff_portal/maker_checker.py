"""The maker-checker forms the config, FX and limits pages share: a proposal posted from the page's
form (invalid fields or a refusal show the page again with 422, a proposal made goes back to the page
with a notice) and a second person's approval or rejection (a refusal shows the page again with 409)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import BaseModel
from starlette.responses import Response

from webapp.deps_auth import DbSession
from webapp.staff_portal.actions import attempt
from webapp.web import forms
from webapp.web.portal import Page

F = TypeVar("F", bound=BaseModel)
# the page's own renderer: (page, session, status, errors=..., values=..., error=...)
PageAgain = Callable[..., Awaitable[Response]]


async def propose(
    page: Page,
    session: DbSession,
    form: type[F],
    work: Callable[[F], Awaitable[object]],
    *,
    again: PageAgain,
    back_to: str,
    refuse: Callable[[F], dict[str, str]] | None = None,
) -> Response:
    """Parse the posted form, run the proposal `work` builds from it, and answer as the page does.

    `refuse` names the fields wrong together that the form's own checks cannot see (none: valid)."""
    result = await forms.parse(form, await page.request.form(), page.language)
    if result.value is None:
        return await again(page, session, 422, errors=result.errors, values=result.values)
    errors = refuse(result.value) if refuse is not None else {}
    if errors:
        return await again(page, session, 422, errors=errors, values=result.values)
    outcome = await attempt(session, work(result.value), page.language)
    if not outcome.ok:
        return await again(page, session, 422, error=outcome.error, values=result.values)
    return page.redirect(back_to, notice="staff.notice.change_proposed")


async def decide(
    page: Page, session: DbSession, work: Awaitable[object], *, approve: bool, again: PageAgain, back_to: str
) -> Response:
    """Run a checker's approval or rejection; a refusal (the maker deciding, a change decided) shows
    the page again."""
    outcome = await attempt(session, work, page.language)
    if not outcome.ok:
        return await again(page, session, 409, error=outcome.error)
    notice = "staff.notice.change_approved" if approve else "staff.notice.change_rejected"
    return page.redirect(back_to, notice=notice)
