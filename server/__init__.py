"""Syncline: a self-hosted AppSync + DataStore + Step Functions backend."""

__version__ = "0.1.0"
