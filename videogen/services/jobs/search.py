"""Finding jobs by what staff paste or type: an id, or words of the prompt.

An id is looked up exactly, through an index, whatever the table's size: a job's UUID, its
first 8 characters (the short id the admin shows: a range of the UUID index), a provider job
id or a generation id. Only when nothing has that id are the words looked for in prompts
(each word, anywhere, case-insensitively): that is a scan, in the list's order, which stops
as soon as a page of matches is found.
"""

from __future__ import annotations

import re
import uuid

from django.db.models import Q, QuerySet
from django.utils.text import smart_split, unescape_string_literal

from videogen.models import VideoJob

SHORT_ID = re.compile(r"[0-9a-fA-F]{8}")
# Longer terms are not ids (the id columns hold 200 characters at most).
MAX_ID_LENGTH = 200


def job_id_q(term: str) -> Q | None:
    """Jobs whose id is ``term`` (any of the four), or ``None`` if it cannot be an id."""
    if not term or len(term) > MAX_ID_LENGTH or any(c.isspace() for c in term):
        return None
    q = Q(provider_job_id=term) | Q(generation_id=term)
    try:
        q |= Q(public_id=uuid.UUID(term))
    except ValueError:
        if SHORT_ID.fullmatch(term):
            low = uuid.UUID(term.lower() + "0" * 24)
            high = uuid.UUID(term.lower() + "f" * 24)
            q |= Q(public_id__gte=low, public_id__lte=high)
    return q


def _words(term: str) -> list[str]:
    words = []
    for word in smart_split(term):
        if word[:1] in "\"'" and word[-1:] == word[:1]:
            word = unescape_string_literal(word)
        if word:
            words.append(word)
    return words


def jobs_search(jobs: QuerySet[VideoJob], term: str) -> QuerySet[VideoJob]:
    """``jobs`` narrowed to those with the id ``term``, else to prompts with its words."""
    term = term.strip()
    if not term:
        return jobs
    by_id = job_id_q(term)
    if by_id is not None and jobs.filter(by_id).exists():
        return jobs.filter(by_id)
    for word in _words(term):
        jobs = jobs.filter(prompt__icontains=word)
    return jobs
