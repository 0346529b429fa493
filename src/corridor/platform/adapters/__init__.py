"""Adapters: the database, the key vault, files, the node client, notifications."""
