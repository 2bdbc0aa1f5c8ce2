"""Syncline's offline-first Python client (a local SQLite replica that syncs).

It never imports `server`: the contract between the two is the GraphQL schema
and docs/protocol.md.
"""
