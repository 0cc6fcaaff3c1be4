"""Images sent with reads: content-addressed storage under the data directory, linked to (owner, read id)."""
