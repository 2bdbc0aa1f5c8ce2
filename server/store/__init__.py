"""Persistence of model items, the change log, the mutation ledger and the conflict log."""
