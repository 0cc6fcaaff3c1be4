"""Closed vocabularies of the brief: purposes, agency kinds, roles, query kinds (documented in docs/vocabularies.md)."""

from __future__ import annotations

from enum import StrEnum


class Purpose(StrEnum):
    STOLEN_VEHICLE = "stolen_vehicle"
    STOLEN_PLATE = "stolen_plate"
    WANTED_PERSON = "wanted_person"
    MISSING_PERSON = "missing_person"
    VIOLENT_CRIME = "violent_crime"
    PROPERTY_CRIME = "property_crime"
    DRUG_CRIME = "drug_crime"
    HUMAN_TRAFFICKING = "human_trafficking"
    HIT_AND_RUN = "hit_and_run"
    TERRORISM = "terrorism"
    IMMIGRATION_ENFORCEMENT = "immigration_enforcement"
    CIVIL_ENFORCEMENT = "civil_enforcement"
    AUDIT_REVIEW = "audit_review"


class AgencyKind(StrEnum):
    MUNICIPAL = "municipal"
    COUNTY = "county"
    STATE = "state"
    FEDERAL = "federal"
    TRIBAL = "tribal"
    PRIVATE = "private"


class Role(StrEnum):
    ADMIN = "admin"
    INVESTIGATOR = "investigator"
    #: An investigator who may also approve (or refuse) the high-risk searches of others, and review break-glass.
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    DEVICE = "device"


class QueryKind(StrEnum):
    PLATE = "plate"
    AREA = "area"
    #: Reads by vehicle description (make, model, colour, type) without a plate, in an area or a set of cameras
    #: and a time window: a broad query owners opt into (``Policy.description``) and agreements grant by name.
    DESCRIPTION = "vehicle"
    ALERT = "alert"
