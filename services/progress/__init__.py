"""The progress service (see DESIGN.md)."""
