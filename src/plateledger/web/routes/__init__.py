"""The UI's routes, one module per area; none is in the OpenAPI document (the API is the machine interface)."""
