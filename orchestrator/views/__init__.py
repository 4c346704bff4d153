"""JSON views of the state tables, shared by the HTTP API and the CLI."""
