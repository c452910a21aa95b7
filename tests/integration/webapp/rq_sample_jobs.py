"""Jobs for the RQ metrics test: one that finishes, one that raises."""

from __future__ import annotations


def finishes() -> str:
    return "ok"


def raises() -> None:
    raise RuntimeError("this job fails on purpose")
