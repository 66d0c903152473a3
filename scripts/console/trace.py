"""shopctl trace: batches and their signed events (溯源), codes for the package, EPCIS export;
shopctl ar: the AR try-on assets of SKUs and what trying on sells."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import requests
import typer
from rich.text import Text

from .base import TIMEOUT, done, emit, emit_json, emit_line, fail, out, shop
from .grid import Col, print_grid, print_list, time_col
from .options import list_page, page_option, page_size_option, parse_moment, present
from .views import when

app = typer.Typer(help="Traceability (溯源): batches, their append-only signed events, the "
                       "code to print, EPCIS 2.0 export.", no_args_is_help=True)
ar = typer.Typer(help="AR try-on: a SKU's checked 3D model (GLB), and the try-on report.",
                 no_args_is_help=True)

BATCH_COLUMNS = (Col("batch", "id"), Col("code", "id"), Col("sku", "id"), Col("batch no"),
                 Col("origin"), time_col("produced"), time_col("created"))
EVENT_COLUMNS = (Col("seq", "fixed", "right"), Col("step"), time_col("time"), Col("where"),
                 Col("data"), Col("hash", "id"))


def _data(text: Optional[str], option: str) -> Optional[dict[str, Any]]:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise typer.BadParameter("not JSON", param_hint=option) from None
    if not isinstance(value, dict):
        raise typer.BadParameter("a JSON object, e.g. '{\"temp_c\": 4}'", param_hint=option)
    return value


def batches_table(data: dict[str, Any]) -> None:
    print_list(BATCH_COLUMNS, [
        (b["batch_id"], b["code"], b["sku_id"], b["batch_no"], b["origin"],
         when(b["produced_at"]), when(b["created_at"])) for b in data["items"]], data, "batches")


def trace_view(data: dict[str, Any]) -> None:
    batch = data["batch"]
    out.print(Text(f"{batch['batch_no']} · {batch.get('product_title') or batch['sku_id']} · "
                   f"{batch['origin']} · code {batch['code']}", style="bold"))
    print_grid(EVENT_COLUMNS, [
        (str(e["seq"]), e["biz_step"], when(e["event_time"]), e["read_point"],
         json.dumps(e["data"], ensure_ascii=False), e["hash"]) for e in data["events"]])
    if data["verified"]:
        out.print(Text(f"verified: the chain holds under key {data['public_key']}",
                       style="green"))
    else:
        out.print(Text(f"NOT verified: broken from seq {data['first_bad_seq']}",
                       style="bold red"))


@app.command("create")
def trace_create(
    ctx: typer.Context,
    sku_id: str = typer.Argument(...),
    batch_no: str = typer.Argument(..., help="The batch (lot) number, as printed."),
    origin: str = typer.Option(..., help="Where it comes from, e.g. 云南省昆明市."),
    produced_at: str = typer.Option(..., help="When it was made: a date or ISO datetime."),
    attributes: Optional[str] = typer.Option(
        None, help="A JSON object of strings and integers (no floats)."),
) -> None:
    """Make a batch of a SKU; prints its id and the code shoppers scan."""
    data = shop(ctx).call("merchant_create_trace_batch", present({
        "sku_id": sku_id, "batch_no": batch_no, "origin": origin,
        "produced_at": parse_moment(produced_at, "--produced-at"),
        "attributes": _data(attributes, "--attributes")}))
    emit_line(ctx, data, lambda d: f"batch {d['batch_id']}, code {d['code']}")


@app.command("append")
def trace_append(
    ctx: typer.Context,
    batch_id: str = typer.Argument(...),
    biz_step: str = typer.Argument(..., help="A GS1 CBV bizStep: commissioning, inspecting, "
                                             "storing, packing, shipping, receiving, ..."),
    read_point: str = typer.Option(..., help="Where: a GLN URN or a place name."),
    event_time: Optional[str] = typer.Option(None, help="When (default: now)."),
    data: Optional[str] = typer.Option(None, help="A JSON object of strings and integers."),
    request_id: Optional[str] = typer.Option(None, help="Makes a retry append once."),
) -> None:
    """Append an event to a batch (hashed, chained, signed; events are never edited)."""
    from datetime import datetime, timezone
    moment = parse_moment(event_time, "--event-time") or \
        datetime.now(timezone.utc).isoformat(timespec="seconds")
    event = shop(ctx).call("merchant_append_trace_event", present({
        "batch_id": batch_id, "biz_step": biz_step, "read_point": read_point,
        "event_time": moment, "data": _data(data, "--data"), "request_id": request_id}))
    emit_line(ctx, event, lambda e: f"seq {e['seq']} {e['biz_step']} {e['hash']}")


@app.command("list")
def trace_list(
    ctx: typer.Context,
    sku_id: Optional[str] = typer.Option(None, help="Only this SKU's batches."),
    page: int = page_option(),
    page_size: int = page_size_option(),
) -> None:
    """Batches, newest first."""
    list_page(ctx, "merchant_list_trace_batches", batches_table, sku_id=sku_id, page=page,
              page_size=page_size)


@app.command("show")
def trace_show(ctx: typer.Context, code: str = typer.Argument(..., help="The trace code.")) \
        -> None:
    """What a shopper sees when scanning: the events, and whether the chain verifies."""
    emit(ctx, shop(ctx).call("get_trace", {"code": code}), trace_view)


@app.command("code")
def trace_code(ctx: typer.Context, batch_id: str = typer.Argument(...)) -> None:
    """The batch's mini-program code (opens its trace page), to print on the package."""
    data = shop(ctx).call("merchant_trace_code", {"batch_id": batch_id})
    emit_line(ctx, data, lambda d: f"code {d['code']}: {d['url']}")


@app.command("export")
def trace_export(
    ctx: typer.Context,
    batch_id: str = typer.Argument(...),
    out_file: Optional[Path] = typer.Option(None, "--out", "-o",
                                            help="Write here (default: BATCH.epcis.json)."),
) -> None:
    """Write the batch as an EPCIS 2.0 JSON document (ObjectEvents, CBV bizSteps)."""
    document = shop(ctx).call("merchant_export_trace", {"batch_id": batch_id})
    target = out_file or Path(f"{batch_id}.epcis.json")
    target.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n",
                      encoding="utf-8")
    if shop(ctx).as_json:
        emit_json({"path": str(target), "events": len(document["epcisBody"]["eventList"])})
    else:
        done(ctx, f"wrote {target} ({len(document['epcisBody']['eventList'])} events)")


# ---- AR try-on -------------------------------------------------------------------------------

def _triple(text: Optional[str], option: str) -> Optional[list[float]]:
    if text is None:
        return None
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 3:
        raise typer.BadParameter("three numbers, x,y,z", param_hint=option)
    return values


def _upload(ctx: typer.Context, path: Path, content_type: str) -> str:
    content = path.read_bytes()
    ticket = shop(ctx).call("get_upload_url", {"purpose": "ar_asset",
                                               "content_type": content_type,
                                               "size": len(content)})
    try:
        answer = requests.put(ticket["upload_url"], data=content, headers=ticket["headers"],
                              timeout=TIMEOUT)
        answer.raise_for_status()
    except requests.RequestException as exc:
        fail(f"upload of {path} failed: {exc}", 2)
    return str(ticket["key"])


@ar.command("set")
def ar_set(
    ctx: typer.Context,
    sku_id: str = typer.Argument(...),
    mode: str = typer.Option(..., help="face, plane, body, hand or marker."),
    glb: Path = typer.Option(..., exists=True, dir_okay=False, help="The GLB model file."),
    scale: float = typer.Option(1.0, min=0.0001),
    position: Optional[str] = typer.Option(None, help="x,y,z (default 0,0,0)."),
    rotation: Optional[str] = typer.Option(None, help="x,y,z in degrees (default 0,0,0)."),
    anchor: Optional[str] = typer.Option(None, help="The tracked point the model hangs on."),
    marker: Optional[Path] = typer.Option(None, exists=True, dir_okay=False,
                                          help="mode marker: the image (JPEG or PNG)."),
    fallback_image: Optional[str] = typer.Option(None, help="URL shown without AR."),
) -> None:
    """Upload a GLB (and a marker image) and attach it to a SKU; the shop checks the file."""
    marker_key = None
    if marker is not None:
        kind = "image/png" if marker.suffix.lower() == ".png" else "image/jpeg"
        marker_key = _upload(ctx, marker, kind)
    data = shop(ctx).call("merchant_upsert_ar_asset", present({
        "sku_id": sku_id, "mode": mode, "glb_key": _upload(ctx, glb, "model/gltf-binary"),
        "scale": scale, "position": _triple(position, "--position"),
        "rotation": _triple(rotation, "--rotation"), "anchor": anchor,
        "marker_key": marker_key, "fallback_image": fallback_image}))
    emit_line(ctx, data, lambda d: f"{d['sku_id']}: {d['ar']['mode']} model of "
                                   f"{d['ar']['bytes']} bytes, sha256 {d['ar']['sha256']}")


def _rate(group: dict[str, Any]) -> str:
    rate = group.get("conversion")
    return "-" if rate is None else f"{100 * rate:.1f}%"


REPORT_COLUMNS = (Col("product", "id"), Col("title"), Col("tried", "fixed", "right"),
                  Col("bought", "fixed", "right"), Col("conv.", "fixed", "right"),
                  Col("viewed only", "fixed", "right"), Col("bought ", "fixed", "right"),
                  Col("conv. ", "fixed", "right"))


def report_view(data: dict[str, Any]) -> None:
    print_grid(REPORT_COLUMNS, [
        (row["product_id"], row.get("title"), str(row["tried"]["shoppers"]),
         str(row["tried"]["buyers"]), _rate(row["tried"]), str(row["viewed_only"]["shoppers"]),
         str(row["viewed_only"]["buyers"]), _rate(row["viewed_only"]))
        for row in data["products"]], title="AR try-on: tried vs viewed only")
    lift = data.get("lift")
    out.print(Text(f"overall: tried {_rate(data['tried'])}, viewed only "
                   f"{_rate(data['viewed_only'])}"
                   + (f", lift ×{lift:.2f}" if lift is not None else ""), style="bold"))


@ar.command("report")
def ar_report(
    ctx: typer.Context,
    product_id: Optional[str] = typer.Option(None, help="Only this product."),
    from_: Optional[str] = typer.Option(None, "--from", help="Start (default: 30 days ago)."),
    to: Optional[str] = typer.Option(None, help="End, exclusive (default: now)."),
) -> None:
    """Conversion of shoppers who tried on in AR against those who only viewed."""
    payload = {"product_id": product_id, "from": parse_moment(from_, "--from"),
               "to": parse_moment(to, "--to")}
    emit(ctx, shop(ctx).call("merchant_ar_report", present(payload)), report_view)
