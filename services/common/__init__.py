"""The small kernel all three services share: settings, database, auth, errors, pagination,
outbox relay, peer HTTP client, health, metrics and logging. No domain logic lives here."""
