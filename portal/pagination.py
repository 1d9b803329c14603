from __future__ import annotations

from rest_framework.pagination import CursorPagination, PageNumberPagination


class PagePagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class NewestFirstCursorPagination(CursorPagination):
    """Stable under inserts and cheap at any depth: no COUNT, no OFFSET."""

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering: str | tuple[str, ...] = "-id"


class TimelineCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("-occurred_at", "-id")
