"""Plateledger: an ALPR data platform bound to owners' policies, declared purposes and a hash-chained audit log."""

__version__ = "0.1.0"
