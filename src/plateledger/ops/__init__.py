"""Operations: damage inspection and readiness of an opened platform (docs/operations.md)."""
