"""Every SQL statement and transaction of the certification service, one module per aggregate:

- ``certificates``: issue, revoke/suspend/reinstate, re-issue, reads, the audit log;
- ``feed``: the HR change feed (horizon, pages, the CSV export's rows);
- ``keys``: credential-signing keys (creation, rotation, the cached key ring);
- ``status_lists``: the signed Bitstring Status List credentials (version counters, cache);
- ``webhooks``: subscriptions, deliveries, and the worker's claim and outcome statements.

Statements are named module constants. Handlers call one function here and commit."""
