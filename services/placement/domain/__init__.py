"""Pure placement logic (no I/O, no Litestar): the adaptive-testing engine (``cat``), item
calibration (``calibration``) and the item bank rules (``bank``)."""
