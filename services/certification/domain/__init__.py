"""Pure certification logic: no I/O, tested on its own."""
