"""The audit: a transparency log (RFC 9162 Merkle tree, C2SP signed checkpoints) over the ledger's event log."""
