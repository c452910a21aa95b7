"""Kept only for webapp/api's imports, which are not this change's files: SignedInStaff lives in
core.auth.types. Delete this module once webapp/api imports it from there."""

from core.auth.types import SignedInStaff as SignedInStaff
