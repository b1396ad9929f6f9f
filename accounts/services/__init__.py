"""Every write in accounts that matters: one function per business action.

Grouped in modules by subject (card credentials, staff security); import them
from here: ``from accounts.services import change_card_password``.
"""
