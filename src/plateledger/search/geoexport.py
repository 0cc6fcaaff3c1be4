"""A search's answer as GeoJSON (RFC 7946) and as KML 2.2, for GIS tools and Google Earth.

GeoJSON: a FeatureCollection with one Feature per read: a Point ``[lon, lat]`` (WGS 84, as RFC 7946 requires),
or ``null`` geometry for a read stored without a position (RFC 7946 §3.2), and the read's fields as properties
(vehicle fields flattened as ``make``, ``model``, ``color``, ``type``, ``direction``). What the reads were
obtained under (purpose, case, warrant, the search's audit entry, withheld owners) is a foreign member,
``plateledger``, of the collection.

KML: a Document naming the case, one Placemark per read with its time (``TimeStamp``), its position (a read
without one has no geometry) and its fields as ``ExtendedData``. Written with :mod:`xml.etree.ElementTree`,
which escapes text: no KML library is needed for Points and data fields.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import orjson

from plateledger.search.engine import SearchResult
from plateledger.search.results import read_json

KML_NS = "http://www.opengis.net/kml/2.2"
VEHICLE = ("make", "model", "color", "type", "direction")


def obtained_under(result: SearchResult) -> dict[str, Any]:
    return {
        "purpose": result.purpose,
        "case_number": result.case_number,
        "warrant": result.warrant,
        "audit_seq": result.audit_seq,
        "query": result.query,
        "truncated": result.truncated,
        "withheld": [{"owner": w.owner, "rule": w.rule} for w in result.withheld],
    }


def flat_rows(result: SearchResult) -> list[dict[str, Any]]:
    """The answer's reads as flat rows: the read's fields with the vehicle's fields beside them."""
    rows = []
    for read in result.reads:
        row: dict[str, Any] = read_json(read, result.owner_names)
        vehicle = row.pop("vehicle") or {}
        row.update({name: vehicle.get(name) for name in VEHICLE})
        rows.append(row)
    return rows


def geojson_bytes(result: SearchResult) -> bytes:
    features = []
    for row in flat_rows(result):
        lat, lon = row["lat"], row["lon"]
        geometry = None if lat is None or lon is None else {"type": "Point", "coordinates": [lon, lat]}
        features.append({"type": "Feature", "geometry": geometry, "properties": row})
    collection = {"type": "FeatureCollection", "features": features, "plateledger": obtained_under(result)}
    body: bytes = orjson.dumps(collection)
    return body


#: Characters XML 1.0 does not allow, even escaped: written as U+FFFD so that the file still parses.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _text(value: object) -> str:
    return _NOT_XML.sub("\ufffd", "" if value is None else str(value))


def kml_bytes(result: SearchResult) -> bytes:
    ET.register_namespace("", KML_NS)
    root = ET.Element(f"{{{KML_NS}}}kml")
    doc = ET.SubElement(root, f"{{{KML_NS}}}Document")
    ET.SubElement(doc, f"{{{KML_NS}}}name").text = _text(f"Plateledger case {result.case_number}")
    under = f"Purpose {result.purpose}, case {result.case_number}, audit entry #{result.audit_seq}"
    if result.warrant:
        under += f", warrant {result.warrant}"
    if result.withheld:
        under += ". Withheld: " + "; ".join(f"{w.owner} ({w.rule})" for w in result.withheld)
    ET.SubElement(doc, f"{{{KML_NS}}}description").text = _text(under)
    for row in flat_rows(result):
        mark = ET.SubElement(doc, f"{{{KML_NS}}}Placemark")
        ET.SubElement(mark, f"{{{KML_NS}}}name").text = _text(row["plate"])
        ET.SubElement(mark, f"{{{KML_NS}}}description").text = _text(f"{row['ts']} at {row['camera']} ({row['owner']})")
        stamp = ET.SubElement(mark, f"{{{KML_NS}}}TimeStamp")
        ET.SubElement(stamp, f"{{{KML_NS}}}when").text = row["ts"]
        data = ET.SubElement(mark, f"{{{KML_NS}}}ExtendedData")
        for name, value in row.items():
            if value is None:
                continue
            item = ET.SubElement(data, f"{{{KML_NS}}}Data", name=name)
            ET.SubElement(item, f"{{{KML_NS}}}value").text = _text(value)
        if row["lat"] is not None and row["lon"] is not None:
            point = ET.SubElement(mark, f"{{{KML_NS}}}Point")
            ET.SubElement(point, f"{{{KML_NS}}}coordinates").text = f"{row['lon']},{row['lat']}"
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + bytes(ET.tostring(root, encoding="utf-8"))
