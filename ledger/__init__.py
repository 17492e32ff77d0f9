"""Hour Ledger's domain model and application: volunteers, time banks, exchange points and the
transactions between them, as immutable events (no HTTP here, and no SQL outside
`ledger.persistence`)."""
