"""Cameras beyond registration: quarantine of reads from unknown vendor camera ids, and camera health."""
