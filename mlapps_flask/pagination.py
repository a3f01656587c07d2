"""Page/page_size query parameters and the `{items, page, page_size, total}` envelope."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import pydantic
from pydantic import BaseModel, Field
from pydantic_core import PydanticCustomError

from common.settings import get_settings

ItemT = TypeVar("ItemT")
MAX_PAGE = 1_000_000


def _page_size_schema(schema: dict[str, Any]) -> None:
    # The bound is a setting, so the documented maximum is read when the document is built.
    schema["maximum"] = get_settings().max_page_size


class PageQuery(BaseModel):
    """`?page=1&page_size=20`; page_size is bounded by `MLAPPS_MAX_PAGE_SIZE`. Subclass to add filters."""

    model_config = pydantic.ConfigDict(extra="ignore")

    page: int = Field(default=1, ge=1, le=MAX_PAGE, description="1-based page number")
    page_size: int = Field(
        default=20, ge=1, description="items per page", json_schema_extra=_page_size_schema
    )

    @pydantic.field_validator("page_size")
    @classmethod
    def _bounded_page_size(cls, value: int) -> int:
        limit = get_settings().max_page_size
        if value > limit:
            raise PydanticCustomError(
                "less_than_equal", "Input should be less than or equal to {le}", {"le": limit}
            )
        return value

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    @property
    def limit(self) -> int:
        return self.page_size


class Page(BaseModel, Generic[ItemT]):
    """The response envelope of every paginated list (`Page[MachineOut]` in `responses=`)."""

    items: list[ItemT]
    page: int
    page_size: int
    total: int


def page_envelope(*, items: Sequence[Any], query: PageQuery, total: int) -> dict[str, Any]:
    """`{items, page, page_size, total}` for one page of results (items already sliced)."""
    dumped = [item.model_dump(mode="json") if isinstance(item, BaseModel) else item for item in items]
    return {"items": dumped, "page": query.page, "page_size": query.page_size, "total": total}
