"""Sharing: owner policies and agreements between agencies (``service.py``)."""
