"""Every SQL statement and transaction of the placement service, one module per aggregate:
``bank`` (items, published versions and their cache), ``sessions`` (the diagnostic hot path),
``results``, ``calibration`` and ``statistics``. Statements are named module constants."""
