"""The placement service (see DESIGN.md)."""
