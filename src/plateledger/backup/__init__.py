"""Backups of a whole data directory and their restore (docs/operations.md, "Backup and restore")."""
