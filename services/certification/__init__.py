"""The certification service (see DESIGN.md)."""
