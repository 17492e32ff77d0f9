"""A reward-exchange point (嘉许礼遇兑换点) with its items: price, stock and the star level they need."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.errors import NotFoundError, OutOfStockError, StarLevelTooLowError
from ledger.vocabulary import PostedBy


class ExchangePoint(Aggregate):
    @event("Registered")
    def __init__(self, id: UUID, name: str, region_code: str, posted_by: PostedBy) -> None:
        self.name = name
        self.region_code = region_code
        # sku -> {"name", "price_minutes", "stock", "min_star"}
        self.items: dict[str, dict[str, Any]] = {}

    def registration(self) -> dict[str, Any]:
        return {"name": self.name, "region_code": self.region_code}

    def put_item(
        self, sku: str, name: str, price_minutes: int, stock: int, min_star: int, posted_by: PostedBy
    ) -> bool:
        """Sets an item as given; records nothing when it is already so (PUT is idempotent)."""
        item = {"name": name, "price_minutes": price_minutes, "stock": stock, "min_star": min_star}
        if self.items.get(sku) == item:
            return False
        self._item_put(sku=sku, item=item, posted_by=posted_by)
        return True

    @event("ItemPut")
    def _item_put(self, sku: str, item: dict[str, Any], posted_by: PostedBy) -> None:
        self.items[sku] = dict(item)

    def take_stock(
        self, transaction_id: UUID, quantities: dict[str, int], star_level: int, posted_by: PostedBy
    ) -> list[dict[str, Any]]:
        """Takes the items for a redemption; answers the priced lines, each with the item's
        name as the catalogue has it now (the receipt names what was handed over).

        Every item must exist, allow this star level and be in stock, or nothing is taken.
        """
        lines = []
        for sku, quantity in quantities.items():
            item = self.items.get(sku)
            if item is None:
                raise NotFoundError("no_such_item", point=self.id, sku=sku)
            if star_level < item["min_star"]:
                raise StarLevelTooLowError("star_level_needed", sku=item_label(sku, item), needed=item["min_star"], level=star_level)
            if item["stock"] < quantity:
                raise OutOfStockError("out_of_stock", sku=item_label(sku, item), stock=item["stock"], asked=quantity)
            lines.append({"sku": sku, "name": item["name"], "quantity": quantity, "price_minutes": item["price_minutes"]})
        self._stock_taken(transaction_id=transaction_id, lines=lines, posted_by=posted_by)
        return lines

    @event("StockTaken")
    def _stock_taken(self, transaction_id: UUID, lines: list[dict[str, Any]], posted_by: PostedBy) -> None:
        for line in lines:
            self.items[line["sku"]]["stock"] -= line["quantity"]

    @event("StockReturned")
    def return_stock(
        self, transaction_id: UUID, reversal_id: UUID, lines: list[dict[str, Any]], posted_by: PostedBy
    ) -> None:
        for line in lines:
            if line["sku"] in self.items:
                self.items[line["sku"]]["stock"] += line["quantity"]


def item_label(sku: str, item: dict[str, Any]) -> str:
    """How a clerk knows an item: its name, with the sku beside it (`雨伞 (umbrella)`)."""
    return f"{item['name']} ({sku})" if item.get("name") and item["name"] != sku else sku
