"""Retention: each owner's reads deleted past its policy's limits (invariant 6), audited, gone from disk."""
