"""Address-book errors, flat; channels translate them by `code`."""

from __future__ import annotations

from core.errors import KibetiError


class InvalidLabel(KibetiError, ValueError):
    code = "address_label_invalid"


class AddressBookFull(KibetiError):
    code = "address_book_full"


class AddressNotSaved(KibetiError):
    code = "address_not_saved"


class AddressRefused(KibetiError):
    """Sanctions screening refused (or sent to review) the address: it is not saved."""

    code = "address_refused"
