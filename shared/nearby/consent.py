"""Location consent and the nearby campaigns that use it.

A shopper's location is used for the query only; opting in keeps a ~5 km geohash cell
(CONSENT_PRECISION), withdrawn at any time. A merchant's nearby campaign queues one subscribe
message per opted-in user whose cell may lie within reach of a store.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from pydantic import Field, model_validator

from shared.core.common import Input, new_id
from shared.core.context import Context
from shared.core.errors import not_found
from shared.nearby import geo
from shared.nearby.stores import MAX_RADIUS_M

CONSENT_PRECISION = 5  # a cell of about 4.9 km x 4.9 km: where, not exactly where
# the mini-program page a nearby campaign message opens
DEALS_PAGE = "packages/nearby/pages/deals/deals?store_id={store_id}"


# ---- inputs --------------------------------------------------------------------------------

class LocationConsentInput(Input):
    enabled: bool
    lat: Optional[float] = Field(default=None, ge=-90, le=90)
    lng: Optional[float] = Field(default=None, ge=-180, le=180)

    @model_validator(mode="after")
    def location_when_enabled(self) -> "LocationConsentInput":
        if self.enabled and (self.lat is None or self.lng is None):
            raise ValueError("lat and lng are needed to opt in")
        return self


class NearbyCampaignInput(Input):
    store_id: str = Field(min_length=1, max_length=64)
    radius_m: int = Field(ge=100, le=MAX_RADIUS_M)
    deal_id: str = Field(min_length=1, max_length=64)
    message: str = Field(min_length=1, max_length=100)


# ---- the shopper's consent -----------------------------------------------------------------

def set_location_consent(ctx: Context, req: LocationConsentInput) -> dict[str, Any]:
    """Opt in to nearby offers (only a ~5 km cell is kept) or withdraw (nothing is kept)."""
    if req.enabled:
        assert req.lat is not None and req.lng is not None  # the input requires them
        cell = geo.encode(req.lat, req.lng, CONSENT_PRECISION)
        ctx.db.users.update_one({"_id": ctx.user_id}, {"$set": {
            "nearby": {"enabled": True, "cell": cell, "updated_at": ctx.now}}})
        return {"enabled": True, "cell": cell}
    ctx.db.users.update_one({"_id": ctx.user_id}, {"$unset": {"nearby": ""}})
    return {"enabled": False, "cell": None}


# ---- the merchant's nearby campaign --------------------------------------------------------

def cells_in_reach(lat: float, lng: float, radius_m: int) -> list[str]:
    """Consent cells any part of which may lie within the radius of the store."""
    _, cells = geo.covering_cells(lat, lng, radius_m, [CONSENT_PRECISION])
    height, width = geo.CELL_DEGREES[CONSENT_PRECISION]
    half_diagonal = geo.haversine_m(0, 0, height / 2, width / 2)
    reach = []
    for cell in cells:
        c_lat, c_lng = geo.cell_center(cell)
        if geo.haversine_m(lat, lng, c_lat, c_lng) <= radius_m + half_diagonal:
            reach.append(cell)
    return sorted(reach)


def nearby_campaign(ctx: Context, req: NearbyCampaignInput) -> dict[str, Any]:
    """Queue one subscribe message per opted-in user in reach of the store, once per campaign."""
    store = ctx.db.stores.find_one({"_id": req.store_id})
    if store is None:
        raise not_found("store")
    deal = ctx.db.deals.find_one({"_id": req.deal_id})
    if deal is None:
        raise not_found("deal")
    campaign_id = new_id("ncp")
    cells = cells_in_reach(store["lat"], store["lng"], req.radius_m)
    queued = 0
    for user in ctx.db.users.find({"nearby.enabled": True, "nearby.cell": {"$in": cells}},
                                  {"_id": 1}):
        queued += enqueue_message(ctx.db, user["_id"], "nearby_campaign", campaign_id, ctx.now,
                                  {"message": req.message, "store_id": store["_id"],
                                   "deal_id": deal["_id"],
                                   "page": DEALS_PAGE.format(store_id=store["_id"])})
    ctx.db.nearby_campaigns.insert_one({"_id": campaign_id, "store_id": store["_id"],
                                        "deal_id": deal["_id"], "radius_m": req.radius_m,
                                        "message": req.message, "cells": cells,
                                        "queued": queued, "created_at": ctx.now})
    return {"campaign_id": campaign_id, "queued": queued, "cells": len(cells)}


def enqueue_message(db: Any, user_id: str, purpose: str, occasion: str, now: datetime,
                    data: dict[str, Any]) -> int:
    """Put one message in the outbox; the key (purpose, occasion, user) makes it once only."""
    from shared.messaging.outbox import enqueue
    return int(enqueue(db, user_id, purpose, occasion, now, data=data, page=data.get("page", "")))
