"""Errors of configuration changes."""

from __future__ import annotations

from core.errors import KibetiError


class InvalidChange(KibetiError, ValueError):
    code = "config_change_invalid"


class ChangeNotFound(KibetiError, LookupError):
    code = "config_change_not_found"


class ChangeNotPending(KibetiError):
    code = "config_change_not_pending"


class SameMakerChecker(KibetiError):
    code = "config_change_same_person"
