"""`plateledger cameras health|quarantine|map|approve|silent`: camera health and the quarantine of reads from
vendor camera ids an agency has not registered (operator actions, audited as cli:<user>)."""

from __future__ import annotations

from typing import Annotated

import typer

from plateledger.cameras.quarantine import Release
from plateledger.cli.admin import cameras
from plateledger.cli.common import DataOpt, JsonOpt, opened, operator, out, print_json
from plateledger.cli.output import shown
from plateledger.core.clock import iso_ms

__all__ = ["cameras"]

AgencyOpt = Annotated[str, typer.Option(help="Agency slug")]
VendorArg = Annotated[str, typer.Argument(help="The vendor's camera id, as `cameras quarantine` lists it")]


def _when(ms: int | None) -> str:
    return iso_ms(ms) if ms is not None else "never"


@cameras.command("health")
def health(agency: AgencyOpt, data: DataOpt = None, json: JsonOpt = False) -> None:
    """Each camera's last read and heartbeat, and whether it is silent (nothing for longer than its interval)."""
    with opened(data) as platform:
        states = platform.health.states_for(operator(), platform.registry.agency(agency).id)
    if json:
        print_json([s.__dict__ for s in states])
        return
    for s in states:
        flag = "SILENT" if s.silent else "ok"
        fault = "" if s.healthy else f"  fault: {shown(s.detail)}"
        out.print(
            f"{shown(s.external_id):<24} {flag:<6} read {_when(s.last_read_ms):<24} "
            f"heartbeat {_when(s.last_heartbeat_ms):<24}"
            f" every {s.silent_after_s}s{fault}"
        )


@cameras.command("silent")
def silent(
    external_id: Annotated[str, typer.Argument(help="A registered camera")],
    agency: AgencyOpt,
    seconds: Annotated[int | None, typer.Option(help="Silent interval; omit for the instance default")] = None,
    data: DataOpt = None,
) -> None:
    """Set how long a camera may send nothing before it is flagged silent (audited)."""
    with opened(data) as platform:
        platform.health.configure(operator(), platform.registry.agency(agency), external_id, seconds)
    out.print(f"camera {external_id}: silent after {seconds if seconds is not None else 'the default'} s")


@cameras.command("quarantine")
def quarantine(agency: AgencyOpt, data: DataOpt = None, json: JsonOpt = False) -> None:
    """Vendor camera ids with reads held in quarantine, oldest first."""
    with opened(data) as platform:
        pending = platform.quarantine.pending(operator(), agency)
    if json:
        print_json([p.__dict__ for p in pending])
        return
    for p in pending:
        out.print(
            f"{shown(p.vendor_camera):<32} {p.reads:>8,} reads  {iso_ms(p.first_received_ms)} .. "
            f"{iso_ms(p.last_received_ms)}  via {shown(', '.join(p.sources))}"
        )
    if not pending:
        out.print("no reads in quarantine")


def _report(release: Release, json: bool) -> None:
    result = release.result
    if json:
        print_json(
            {
                "vendor_camera": release.vendor_camera,
                "camera": release.camera,
                "how": release.how,
                "released": release.released,
                "stored": result.stored,
                "duplicates": result.duplicates,
                "rejected": [{"index": i, "reason": r} for i, r in result.rejected],
            }
        )
        return
    out.print(
        f"{shown(release.vendor_camera)} {release.how} as {shown(release.camera)}: "
        f"{release.released:,} reads released, "
        f"{result.stored:,} stored, {result.duplicates:,} duplicates, {len(result.rejected):,} rejected"
    )
    for index, reason in result.rejected[:20]:
        out.print(f"  read {index}: {shown(reason)}")


@cameras.command("map")
def map_camera(
    vendor_camera: VendorArg,
    agency: AgencyOpt,
    to: Annotated[str, typer.Option("--to", help="The registered camera the vendor id is")],
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Map a vendor camera id onto a registered camera and release its quarantined reads (original times kept,
    hot lists matched); later reads from the vendor id are stored as that camera's."""
    with opened(data) as platform:
        release = platform.quarantine.map(operator(), agency, vendor_camera, to)
    _report(release, json)


@cameras.command("approve")
def approve(
    vendor_camera: VendorArg,
    agency: AgencyOpt,
    name: Annotated[str, typer.Option(help="Display name")] = "",
    lat: Annotated[float | None, typer.Option(help="Fixed position latitude")] = None,
    lon: Annotated[float | None, typer.Option(help="Fixed position longitude")] = None,
    mobile: Annotated[bool, typer.Option("--mobile", help="A vehicle-mounted unit (reads carry GPS)")] = False,
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Register a vendor camera id as a new camera of the agency and release its quarantined reads."""
    with opened(data) as platform:
        release = platform.quarantine.approve(
            operator(), agency, vendor_camera, name=name, mobile=mobile, lat=lat, lon=lon
        )
    _report(release, json)
