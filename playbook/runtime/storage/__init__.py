"""The parts of the daemon's store behind the `Store` façade (runtime/store.py): one
`Database` and, on it, the event log, the state journal, the ledger, the leases, contacts
and accounts, playbook versions and approvals. Nothing here imports runtime/store.py."""
