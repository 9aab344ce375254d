"""Hot statements that find their rows through an index, whatever the
planner's statistics say.

The site rows the engine reads every second (due, claimed, locked to record)
are updated twice a check. Each update leaves the old version behind, dead
until vacuumed, and between two ANALYZEs the planner may judge sites_site
too small for an index. A sequential or bitmap scan then visits every dead
version again on every tick, while an index scan marks the dead entries it
meets so that the next one steps over them. Measured on 1,000 sites at 50
checks/s with autovacuum off, the claim cost 2.3 ms a tick by bitmap scan
and 0.05-0.2 ms by index, and the recorder's two statements on the locked
rows 0.5-1 ms each by sequential scan.

SET LOCAL lasts until the transaction ends, so later statements of the same
transaction (the recorder's UPDATE) use the indexes too. Outside a
transaction block the statements of one query run in a transaction of their
own, so it holds for that query alone. These are penalties on the plans,
not prohibitions: a statement with no index to use still runs.
"""

_BY_INDEX = "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; "


def execute_by_index(cursor, sql: str, params=None) -> None:
    """Run `sql` after turning sequential and bitmap scans off, in one round
    trip; the cursor is left on its result."""
    cursor.execute(_BY_INDEX + sql, params)
    while cursor.description is None and cursor.nextset():
        pass
