"""Every write in debits that matters: one function per business action.

Grouped in modules by subject (re-sync, collection, fees, controls); import
them from here: ``from debits.services import resync_mandate``.
"""
