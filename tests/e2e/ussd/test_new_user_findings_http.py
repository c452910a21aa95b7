"""Findings from dialling as a new user, over HTTP with the real flows: the welcome screen (before a
language is chosen, in English and Swahili) answers a wrong key in both languages, as it asks; it
said "Invalid choice." in English only, above the bilingual question."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.ussd.conftest import PIN, AtPhone, registered


async def test_a_wrong_key_on_the_welcome_screen_is_answered_in_both_languages(
    client: httpx.AsyncClient,
) -> None:
    phone = AtPhone(client, "+254712300600")
    welcome = await phone.dial()
    assert welcome.startswith("CON ") and "Chagua lugha" in welcome
    for wrong in ("3", "0", "abc", "12", "99"):
        phone.inputs = []  # each wrong key answered on the welcome screen itself
        screen = await phone.hop(wrong)
        assert screen.startswith("CON Invalid choice / Chaguo si sahihi.\n"), (wrong, screen)
        assert screen.endswith(welcome.removeprefix("CON ")), (wrong, screen)
    swahili = await phone.hop("99*2")  # then a language: registration goes on in it
    assert "Weka jina lako kamili" in swahili, swahili


@pytest.mark.parametrize(
    ("language", "same"), [("1", "Choose a new PIN, not your current one."), ("2", "Chagua PIN mpya")]
)
async def test_a_new_pin_that_is_the_current_one_is_refused(
    client: httpx.AsyncClient, language: str, same: str
) -> None:
    """Change PIN took the current PIN as the new one and said "Your PIN has been changed"."""
    phone = await registered(client, "+254712300601", language)
    await phone.menu("9", "1")
    await phone.send(PIN)
    refused = await phone.send(PIN)
    assert refused.startswith(f"CON {same}"), refused
    assert await phone.send("7391") != refused  # another PIN goes on to its confirmation
    done = await phone.send("7391")
    assert done.startswith("END ") and ("changed" in done or "imebadilishwa" in done), done


async def test_a_name_is_letters_and_spaces_as_the_screen_says(client: httpx.AsyncClient) -> None:
    """The error says "letters and spaces only", but an emoji or symbols were taken as a name."""
    phone = AtPhone(client, "+254712300602")
    for typed in ("Wanjiru 😀 Njeri", "Amina @ Home", "Otieno!!", "Baraka 2"):
        screen = await phone.menu("1", typed)
        assert screen.startswith("CON Enter your name: letters and spaces only"), (typed, screen)
    for typed in ("José Müller", "O'Brien Kamau-Otieno", "Wanjiru  Njeri"):
        screen = await phone.menu("1", typed)
        assert screen.startswith("CON Enter your national ID number"), (typed, screen)
