"""Celery tasks of debits: thin wrappers that take ids and call one service."""
