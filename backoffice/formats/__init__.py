"""Date and time formats of the workspace, one per language (FORMAT_MODULE_PATH).

Both languages show ``2026-12-01 16:23``: staff compare times across a table and
paste them into tickets, and the same digits in the same order read the same in
Chinese and English. Times are Asia/Shanghai (TIME_ZONE).
"""
