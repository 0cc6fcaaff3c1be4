"""The closed vocabularies as they appear in the OpenAPI document: strings whose schema is an ``enum``.

Each type below is a plain ``str`` at run time: the domain validates the value (and audits a refusal where it
audits one), so a request outside the vocabulary gets the domain's precise 422, as from the CLI. The schema
names the values, taken from the enums themselves, so the document cannot drift from the code.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import WithJsonSchema

from plateledger.adapters import SOURCES
from plateledger.alerts.service import AlertState
from plateledger.hotlists.importer import Mode
from plateledger.hotlists.imports import Format
from plateledger.hotlists.service import AlertLevel, Visibility
from plateledger.policy.rules import AgreementState, Preset
from plateledger.search.image import KINDS, SIZES
from plateledger.vocab import AgencyKind, Purpose, QueryKind, Role


def enum_schema(values: Iterable[str]) -> WithJsonSchema:
    """A string schema allowing only ``values`` (in their order)."""
    schema: dict[str, Any] = {"type": "string", "enum": [str(v) for v in values]}
    return WithJsonSchema(schema)


PurposeName = Annotated[str, enum_schema(Purpose)]
QueryKindName = Annotated[str, enum_schema(QueryKind)]
RoleName = Annotated[str, enum_schema(Role)]
AgencyKindName = Annotated[str, enum_schema(AgencyKind)]
AgreementStateName = Annotated[str, enum_schema(AgreementState)]
PresetName = Annotated[str, enum_schema(Preset)]
AlertStateName = Annotated[str, enum_schema(AlertState)]
AlertLevelName = Annotated[str, enum_schema(AlertLevel)]
VisibilityName = Annotated[str, enum_schema(Visibility)]
ImportFormatName = Annotated[str, enum_schema(Format)]
ImportModeName = Annotated[str, enum_schema(Mode)]
SourceName = Annotated[str, enum_schema(sorted(SOURCES))]
ImageKindName = Annotated[str, enum_schema(KINDS)]
ImageSizeName = Annotated[str, enum_schema(SIZES)]
