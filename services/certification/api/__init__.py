"""HTTP controllers by area."""
