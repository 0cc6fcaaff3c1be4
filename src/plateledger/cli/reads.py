"""`plateledger ingest`, `plateledger search plate`, `plateledger search area` and `plateledger search
description`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from plateledger.auth.tokens import Principal
from plateledger.cli.common import (
    CaseOpt,
    DataOpt,
    JsonOpt,
    NoteOpt,
    PurposeOpt,
    SearchTokenOpt,
    WarrantOpt,
    call,
    opened,
    operator,
    out,
    print_json,
)
from plateledger.cli.output import err, printable, shown
from plateledger.cli.progress import progress
from plateledger.core.errors import (
    FieldInvalid,
    InvalidInput,
)
from plateledger.ingest.canonical import parse_mapping
from plateledger.ingest.count import count_records
from plateledger.ingest.expiring import warnings
from plateledger.platform import Platform
from plateledger.search.area import AreaSearch
from plateledger.search.description import DescriptionSearch
from plateledger.search.engine import SearchResult
from plateledger.search.export import Ask, check_format
from plateledger.search.plate import PlateSearch
from plateledger.search.results import result_json
from plateledger.store.reads import BatchResult

ApprovalOpt = Annotated[
    int | None, typer.Option(help="Your approved approval request: runs the identical search it holds, once")
]
BreakGlassOpt = Annotated[
    bool,
    typer.Option(
        "--break-glass", help="Exigent: run at once, marked break-glass, reviewed by a supervisor (--note why)"
    ),
]

_VEHICLE = "case-insensitive, at most 64 characters"
MakeOpt = Annotated[str | None, typer.Option(help=f"Vehicle make, e.g. Toyota ({_VEHICLE})")]
ModelOpt = Annotated[str | None, typer.Option(help=f"Vehicle model, e.g. Corolla ({_VEHICLE})")]
ColorOpt = Annotated[str | None, typer.Option(help=f"Vehicle colour, e.g. red ({_VEHICLE})")]
TypeOpt = Annotated[str | None, typer.Option("--type", help=f"Vehicle type, e.g. sedan ({_VEHICLE})")]

LatOpt = Annotated[float | None, typer.Option(help="Centre latitude (with --lon and --radius-m)")]
LonOpt = Annotated[float | None, typer.Option(help="Centre longitude")]
RadiusOpt = Annotated[float | None, typer.Option("--radius-m", help="Radius in metres (at most 50,000)")]
PolygonOpt = Annotated[str | None, typer.Option(help="Instead of a circle: 'lat,lon;lat,lon;...' (3-100 vertices)")]
WindowSinceOpt = Annotated[str | None, typer.Option(help="Start, inclusive: ISO 8601 with zone or epoch ms (required)")]
WindowUntilOpt = Annotated[str | None, typer.Option(help="End, exclusive: ISO 8601 with zone or epoch ms (required)")]
PageOpt = Annotated[int | None, typer.Option(help="Most reads per page")]
CursorOpt = Annotated[str | None, typer.Option(help="next_cursor of the previous page")]
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        help="Write the answer as a file instead of printing it: csv, geojson, kml or pdf (a case packet); the "
        "search and the download are both audited",
    ),
]
OutOpt = Annotated[
    Path | None, typer.Option("--out", help="With --format: the file to write (default: standard output)")
]

search = typer.Typer(
    help="Search reads (purpose and case number required; every search is audited).",
    no_args_is_help=True,
)

REJECTIONS_SHOWN = 50


def ingest(
    files: Annotated[list[Path], typer.Argument(help="JSONL or CSV files (.gz accepted)")],
    agency: Annotated[str, typer.Option(help="Owner agency slug (the reads' owner; never from the payload)")],
    format: Annotated[str, typer.Option("--format", help="jsonl|csv")] = "jsonl",
    map: Annotated[
        str | None,
        typer.Option("--map", help="CSV columns: plate=PLATE_COL,ts=TIME_COL,camera=CAM,..."),
    ] = None,
    ts_format: Annotated[str | None, typer.Option(help="strptime format of the CSV time column")] = None,
    tz: Annotated[str, typer.Option(help="Zone of CSV times that carry none")] = "UTC",
    quarantine_unknown: Annotated[
        bool,
        typer.Option(
            "--quarantine-unknown",
            help="Hold reads of cameras the agency has not registered (see `cameras quarantine`) instead of "
            "rejecting them",
        ),
    ] = False,
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Ingest canonical reads from files. Exit 0 when every read was stored, was a duplicate or was held in
    quarantine, 1 when some were rejected (each listed with its line or row and reason; --json gives 0-based
    indexes), 2 on unusable input. Reads older than the agency's retention are stored with a warning: the next
    retention run deletes them."""
    if format not in ("jsonl", "csv"):
        raise FieldInvalid("format", "jsonl or csv")
    if format == "jsonl" and (map or ts_format):
        raise InvalidInput("--map and --ts-format apply to --format csv only")
    mapping = parse_mapping(map)
    summary: dict[str, Any] = {"files": []}
    total = BatchResult()
    with opened(data) as platform:
        owner = platform.registry.agency(agency)
        actor = operator(owner.id)
        for path in files:
            with progress(
                f"ingest {path.name}",
                count_records(path, format),  # type: ignore[arg-type]
                unit="lines" if format == "jsonl" else "rows",
                every_s=platform.settings.progress_interval_s,
                bar=not json,
            ) as advance:
                result = platform.ingest.ingest_file(
                    actor,
                    owner,
                    path,
                    fmt=format,  # type: ignore[arg-type]
                    mapping=mapping,
                    ts_format=ts_format,
                    tz=tz,
                    progress=advance,
                    store=platform.quarantine.store_block if quarantine_unknown else None,
                )
            total.add(result)
            summary["files"].append(
                {
                    "file": str(path),
                    "stored": result.stored,
                    "duplicates": result.duplicates,
                    "rejected": [{"index": i, "reason": r} for i, r in result.rejected],
                    "quarantined": result.quarantined,
                }
            )
    notes = [{"code": w.code, "count": w.count, "detail": w.message()} for w in warnings(total)]
    summary.update(
        stored=total.stored,
        duplicates=total.duplicates,
        rejected=len(total.rejected),
        quarantined=total.quarantined,
        warnings=notes,
    )
    if json:
        print_json(summary)
    else:
        for entry in printable(summary["files"]):
            for rejection in entry["rejected"][:REJECTIONS_SHOWN]:
                where = f"line {rejection['index'] + 1}" if format == "jsonl" else f"row {rejection['index'] + 1}"
                out.print(f"{entry['file']}: {where} rejected: {rejection['reason']}")
            if len(entry["rejected"]) > REJECTIONS_SHOWN:
                out.print(f"{entry['file']}: ... {len(entry['rejected']) - REJECTIONS_SHOWN} more rejected")
        held = f", quarantined {total.quarantined}" if quarantine_unknown else ""
        out.print(f"stored {total.stored}, duplicates {total.duplicates}, rejected {len(total.rejected)}{held}")
        for note in notes:
            err.print(f"warning: {note['detail']}")
    if total.rejected:
        raise typer.Exit(1)


@search.command("plate")
def search_plate(
    plate: Annotated[str, typer.Argument(help="Plate, or a pattern with * (any run) and ? (one character)")],
    token: SearchTokenOpt,
    purpose: PurposeOpt = None,
    case: CaseOpt = None,
    fuzzy: Annotated[bool, typer.Option("--fuzzy", help="Match OCR-confusable characters (O/0, B/8 ...)")] = False,
    contains: Annotated[
        bool,
        typer.Option("--contains", help="Plates containing PLATE (a partial plate, at least 3 letters or digits)"),
    ] = False,
    since: Annotated[str | None, typer.Option(help="ISO 8601 with zone")] = None,
    until: Annotated[str | None, typer.Option(help="ISO 8601 with zone")] = None,
    region: Annotated[str | None, typer.Option(help="e.g. US-CA")] = None,
    camera: Annotated[str | None, typer.Option(help="Camera id")] = None,
    limit: Annotated[int | None, typer.Option(help="Most reads to return")] = None,
    note: NoteOpt = None,
    warrant: WarrantOpt = None,
    approval: ApprovalOpt = None,
    break_glass: BreakGlassOpt = False,
    make: MakeOpt = None,
    model: ModelOpt = None,
    color: ColorOpt = None,
    vehicle_type: TypeOpt = None,
    data: DataOpt = None,
    json: JsonOpt = False,
    export_format: FormatOpt = None,
    out_file: OutOpt = None,
) -> None:
    """A plate's history, from the data your agency may see, sorted by time; --make, --model, --color and
    --type keep only reads of a vehicle so described."""
    ask = PlateSearch(
        plate=plate,
        purpose=purpose,
        case_number=case,
        fuzzy=fuzzy,
        since=since,
        until=until,
        region=region,
        camera=camera,
        limit=limit,
        note=note,
        warrant=warrant,
        approval=approval,
        break_glass=break_glass,
        match="contains" if contains else None,
        make=make,
        model=model,
        color=color,
        vehicle_type=vehicle_type,
    )
    if export_format is not None:
        _export(data, token, "plate", ask, export_format, out_file)
        return
    body = _search(data, token, "plate", lambda platform, principal: platform.searches.search(principal, ask), ask)
    _print_result(body, json)


def _search(
    data: Path | None,
    token: str,
    kind: str,
    run: Callable[[Platform, Principal], SearchResult],
    ask: PlateSearch | AreaSearch | DescriptionSearch,
) -> dict[str, Any]:
    """Run a search here, or, when a server holds the data directory, send the same request to it: the search's
    fields are the API's query parameters (``vehicle_type`` is the API's ``type``)."""
    params = asdict(ask)
    if "vehicle_type" in params:
        params["type"] = params.pop("vehicle_type")
    body: dict[str, Any] = call(
        data,
        token,
        where=f"cli search {kind}",
        local=lambda platform, principal: result_json(run(platform, principal)),
        method="GET",
        path=f"/api/v1/search/{kind}",
        params=params,
    )
    return body


def _export(data: Path | None, token: str, kind: str, ask: Ask, fmt: str, out_file: Path | None) -> None:
    """The answer of ``ask`` as a file (here, or from the server holding the data directory, as the API's
    export): to ``out_file`` or standard output."""
    check_format(fmt)
    body: bytes = call(
        data,
        token,
        where=f"cli search {kind}",
        local=lambda platform, principal: platform.exports.export(principal, ask, fmt).body,
        method="GET",
        path=f"/api/v1/search/{kind}/export",
        params={**asdict(ask), "format": fmt},
        raw=True,
    )
    if out_file is None:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    else:
        out_file.write_bytes(body)
        out.print(f"{fmt} export of the {kind} search written to {shown(str(out_file))} ({len(body)} bytes)")


def _print_result(body: dict[str, Any], json: bool) -> None:
    if json:
        print_json(body)
        return
    body = printable(body)
    out.print(f"{body['count']} reads, obtained under {body['obtained_under']} (audit #{body['audit_seq']})")
    groups = body.get("groups")
    if groups is not None:
        cover = "" if body.get("groups_complete") else " (of the reads shown only: the answer is truncated)"
        plural = "" if len(groups) == 1 else "s"
        out.print(f"{len(groups)} distinct plate{plural}{cover}:")
        for group in groups:
            out.print(
                f"  {group['plate']:<10} {group['count']:>6} reads  first {group['first_seen']}  "
                f"last {group['last_seen']}"
            )
    hint = body.get("hint")
    if hint is not None:
        fuzzy = " --fuzzy" if hint["fuzzy"] else ""
        out.print(f"hint: {hint['detail']} (plateledger search plate {hint['plate']} --contains{fuzzy} ...)")
    for read in body["reads"]:
        where = f"{read['lat']:.5f},{read['lon']:.5f}" if read["lat"] is not None else "no position"
        out.print(
            f"{read['ts']}  {read['plate']:<10} {read['region'] or '':<6} {read['camera']:<20} "
            f"{where:<22} {read['owner']}{_vehicle_text(read.get('vehicle'))}"
        )
    if body.get("next_cursor"):
        out.print(f"(more reads match: next page with --cursor {body['next_cursor']})")
    elif body["truncated"]:
        out.print("(more reads match: narrow the time range or raise --limit)")
    for limited in body["limited"]:
        out.print(f"limited: {limited['owner']}: {limited['rule']}")
    for withheld in body["withheld"]:
        out.print(f"withheld: {withheld['owner']}: {withheld['rule']}")


def _vehicle_text(vehicle: dict[str, Any] | None) -> str:
    """A read's vehicle as ``  [red Toyota Corolla sedan]`` ('' without one)."""
    words = [str(vehicle[k]) for k in ("color", "make", "model", "type") if vehicle and vehicle.get(k)]
    return f"  [{' '.join(words)}]" if words else ""


@search.command("area")
def search_area(
    token: SearchTokenOpt,
    purpose: PurposeOpt = None,
    case: CaseOpt = None,
    lat: LatOpt = None,
    lon: LonOpt = None,
    radius_m: RadiusOpt = None,
    polygon: PolygonOpt = None,
    since: WindowSinceOpt = None,
    until: WindowUntilOpt = None,
    limit: PageOpt = None,
    cursor: CursorOpt = None,
    note: NoteOpt = None,
    warrant: WarrantOpt = None,
    approval: ApprovalOpt = None,
    break_glass: BreakGlassOpt = False,
    data: DataOpt = None,
    json: JsonOpt = False,
    export_format: FormatOpt = None,
    out_file: OutOpt = None,
) -> None:
    """Reads near a place (a radius around a point, or a polygon) in a time window, from the data your agency
    may see under each owner's area limits, sorted by time, one page at a time."""
    ask = AreaSearch(
        purpose=purpose,
        case_number=case,
        lat=lat,
        lon=lon,
        radius_m=radius_m,
        polygon=polygon,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
        note=note,
        warrant=warrant,
        approval=approval,
        break_glass=break_glass,
    )
    if export_format is not None:
        _export(data, token, "area", ask, export_format, out_file)
        return
    body = _search(data, token, "area", lambda platform, principal: platform.areas.search(principal, ask), ask)
    _print_result(body, json)


@search.command("description")
def search_description(
    token: SearchTokenOpt,
    purpose: PurposeOpt = None,
    case: CaseOpt = None,
    make: MakeOpt = None,
    model: ModelOpt = None,
    color: ColorOpt = None,
    vehicle_type: TypeOpt = None,
    lat: LatOpt = None,
    lon: LonOpt = None,
    radius_m: RadiusOpt = None,
    polygon: PolygonOpt = None,
    cameras: Annotated[
        str | None, typer.Option(help="Instead of an area: camera ids separated by commas (at most 100)")
    ] = None,
    since: WindowSinceOpt = None,
    until: WindowUntilOpt = None,
    limit: PageOpt = None,
    cursor: CursorOpt = None,
    note: NoteOpt = None,
    warrant: WarrantOpt = None,
    approval: ApprovalOpt = None,
    break_glass: BreakGlassOpt = False,
    data: DataOpt = None,
    json: JsonOpt = False,
    export_format: FormatOpt = None,
    out_file: OutOpt = None,
) -> None:
    """Reads of vehicles so described (at least one of --make, --model, --color, --type), without a plate, in an
    area or a set of cameras and a time window: only from owners whose policy allows description searches and,
    for other agencies' data, whose agreement grants them; the others are listed as withheld."""
    ask = DescriptionSearch(
        purpose=purpose,
        case_number=case,
        make=make,
        model=model,
        color=color,
        vehicle_type=vehicle_type,
        lat=lat,
        lon=lon,
        radius_m=radius_m,
        polygon=polygon,
        cameras=cameras,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
        note=note,
        warrant=warrant,
        approval=approval,
        break_glass=break_glass,
    )
    if export_format is not None:
        _export(data, token, "description", ask, export_format, out_file)
        return
    body = _search(
        data, token, "description", lambda platform, principal: platform.descriptions.search(principal, ask), ask
    )
    _print_result(body, json)
