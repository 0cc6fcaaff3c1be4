"""Cameras beyond registration: vendor reads mapped onto the owner's cameras at ingest (``vendor.py``), quarantine
of reads from unknown vendor camera ids, and camera health."""

from __future__ import annotations

from plateledger.audit.log import Actor
from plateledger.core.errors import PermissionDenied
from plateledger.store.models import Agency
from plateledger.vocab import Role


def require_admin(actor: Actor, agency: Agency) -> None:
    """Operators at the console (no role) act for any agency; through the API only the agency's admins."""
    if actor.role is None:
        return
    if actor.role != Role.ADMIN:
        raise PermissionDenied("only an admin may manage cameras and their quarantine")
    if actor.agency_id != agency.id:
        raise PermissionDenied("an admin manages only its own agency's cameras")
