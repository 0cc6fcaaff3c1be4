"""Two-person approval of high-risk searches and break-glass review (docs/approval.md)."""
