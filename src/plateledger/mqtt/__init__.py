"""The MQTT door: reads pushed to a broker (Frigate's license plate messages), stored as reads of one agency.

An entry point beside ``api``, ``web`` and ``cli``: it authenticates a device token, translates messages and calls
the library (the vendor ingest layer), and owns nothing the other doors do not. See ``ingest.py``.
"""
