"""Seed the indicators' default diagnosis code lists from yunying/indicators/code_lists.csv (issue 14).

Migration 0030 inserted them as SQL literals until they became data; a warehouse migrated before keeps its rows
(identical, replaced here by the file's with source 'yunying default (spec §3)'), and a list the user loaded is
left alone.
"""


def migrate(con) -> None:
    from yunying.warehouse.codelists import seed_defaults

    seed_defaults(con)
