"""A batch as GS1 EPCIS 2.0 JSON(-LD): one EPCISDocument whose eventList holds an ObjectEvent
per trace event, for partners' traceability systems (``shopctl trace export BATCH``).

The goods are a class and lot, not serialised items: ``quantityList`` names the class of the
batch. bizStep is the full CBV URN (``urn:epcglobal:cbv:bizstep:shipping``). The chain fields
(seq, hashes, signature) and the event's data ride along as extension fields of the shop's own
namespace, so a receiver can still check the chain.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from shared.core.common import iso

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
SHOP_NAMESPACE = "https://shop.example/epcis/"
BIZ_STEP_URN = "urn:epcglobal:cbv:bizstep:"


def _uri(text: str, kind: str) -> str:
    """EPCIS ids are URIs: a GLN URN or a link stays, a plain place name becomes a URN."""
    if text.startswith(("urn:", "http://", "https://")):
        return text
    return f"urn:x-shop:{kind}:{quote(text, safe='')}"


def lot_class(batch: dict[str, Any]) -> str:
    return f"urn:x-shop:lot:{quote(batch['sku_id'], safe='')}.{quote(batch['batch_no'], safe='')}"


def object_event(batch: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    commissioning = event["biz_step"] == "commissioning"
    body: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": event["event_time"],
        "eventTimeZoneOffset": "+00:00",
        "recordTime": iso(event.get("recorded_at")),
        "eventID": f"ni:///sha-256;{event['hash']}?ver=CBV2.0",
        "epcList": [],
        "quantityList": [{"epcClass": lot_class(batch)}],
        "action": "ADD" if commissioning else "OBSERVE",
        "bizStep": BIZ_STEP_URN + event["biz_step"],
        "readPoint": {"id": _uri(event["read_point"], "place")},
        "shop:seq": event["seq"],
        "shop:prevHash": event["prev_hash"],
        "shop:hash": event["hash"],
        "shop:signature": event["signature"],
        "shop:data": event["data"],
    }
    if commissioning:  # instance/lot master data belongs to the event that makes the lot
        body["ilmd"] = {"cbvmda:lotNumber": batch["batch_no"], "shop:origin": batch["origin"],
                        "shop:producedAt": iso(batch["produced_at"])}
    return body


def epcis_document(batch: dict[str, Any], events: list[dict[str, Any]],
                   now: datetime) -> dict[str, Any]:
    return {
        "@context": [EPCIS_CONTEXT, {"shop": SHOP_NAMESPACE,
                                     "cbvmda": "urn:epcglobal:cbv:mda:"}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": iso(now),
        "epcisHeader": {"epcisMasterData": {"vocabularyList": [{
            "type": "urn:epcglobal:epcis:vtype:EPCClass",
            "vocabularyElementList": [{"id": lot_class(batch), "attributes": [
                {"id": "urn:epcglobal:cbv:mda#lotNumber", "attribute": batch["batch_no"]},
                {"id": f"{SHOP_NAMESPACE}origin", "attribute": batch["origin"]},
                {"id": f"{SHOP_NAMESPACE}skuId", "attribute": batch["sku_id"]}]}]}]}},
        "epcisBody": {"eventList": [object_event(batch, e) for e in events]},
    }
