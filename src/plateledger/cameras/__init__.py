"""Cameras beyond registration: vendor reads mapped onto the owner's cameras at ingest (``vendor.py``), quarantine
of reads from unknown vendor camera ids, and camera health."""
