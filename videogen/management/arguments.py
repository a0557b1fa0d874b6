"""Command-line arguments under the text-hygiene rule: a ``CommandError`` naming the option
and the rule broken, never a traceback from the database driver."""

from __future__ import annotations

from django.core.management.base import CommandError

from videogen import hygiene


def clean_argument(
    value: str, *, option: str, max_length: int | None = None, multiline: bool = False
) -> str:
    """``value`` unchanged when it passes the rule; ``CommandError`` otherwise.

    On Linux, bytes of ``argv`` that are not UTF-8 arrive as lone surrogates: they are refused
    here like a NUL or a control character, before any lookup.
    """
    problem = hygiene.text_problem(value, max_length=max_length, multiline=multiline)
    if problem is not None:
        raise CommandError(f"{option}: {problem.message} ({problem.code})")
    return value


def bounded_integer(value: int, *, option: str, low: int, high: int) -> int:
    """``value`` when ``low <= value <= high``; ``CommandError`` otherwise."""
    if not low <= value <= high:
        raise CommandError(f"{option} must be between {low} and {high} (got {value}).")
    return value
