"""The status of every site as one JSON document: the hottest read there is.

On PostgreSQL the database builds the whole answer (json_agg) and Python
passes one string on: no per-site Python objects, so neither the work nor the
garbage collector grows with the number of sites. Elsewhere (SQLite) it is
built in Python from one values_list query. Both give what
StatusOutputSerializer would (tests compare them).
"""

import orjson
from django.db import connection, transaction
from django.utils import timezone

from monitor.serializers import STATUS_COLUMNS, UP_BY_STATUS, site_statuses
from sites.models import Site

# checkedAt as DRF's DateTimeField writes it: isoformat() in the current time
# zone, microseconds only when there are any, "Z" for UTC.
_CHECKED_AT = """
    to_char(last_checked_at, 'YYYY-MM-DD"T"HH24:MI:SS')
    || CASE WHEN extract(microseconds FROM last_checked_at)::bigint %% 1000000 = 0
            THEN '' ELSE to_char(last_checked_at, '.US') END
    || CASE WHEN to_char(last_checked_at, 'TZH:TZM') = '+00:00'
            THEN 'Z' ELSE to_char(last_checked_at, 'TZH:TZM') END
"""
# One object per site, written with format() and to_json() (which escapes
# strings): several times cheaper in PostgreSQL than json_build_object.
# (Braces doubled for str.format, percent signs for the driver.)
_ENTRY = """format(
    '{{"id":%%s,"url":%%s,"name":%%s,"up":%%s,"status":%%s,"checkedAt":%%s,'
    '"responseTimeMs":%%s,"statusCode":%%s,"error":%%s}}',
    id, to_json(url), to_json(name),
    CASE status {up_cases} ELSE 'null' END,
    to_json(status),
    CASE WHEN last_checked_at IS NULL THEN 'null' ELSE '"' || {checked_at} || '"' END,
    COALESCE(last_response_ms::text, 'null'),
    COALESCE(last_status_code::text, 'null'),
    CASE WHEN last_error_kind = '' THEN 'null'
         ELSE '{{"kind":' || to_json(last_error_kind)
              || ',"message":' || to_json(last_error_message) || '}}' END
)"""


def status_json(*, project_ids: list[int]) -> bytes:
    """{"sites": [...]}, one entry per site of these projects, ordered by id."""
    if connection.vendor != "postgresql":
        sites = Site.objects.filter(project_id__in=project_ids)
        rows = sites.order_by("id").values_list(*STATUS_COLUMNS)
        return orjson.dumps({"sites": site_statuses(rows)})
    # Site.up's rule, handed to SQL rather than written there a second time.
    up_cases = " ".join("WHEN %s THEN %s" for _ in UP_BY_STATUS)
    up_params = []
    for status, up in UP_BY_STATUS.items():
        up_params += [status, "null" if up is None else str(up).lower()]
    entry = _ENTRY.format(up_cases=up_cases, checked_at=_CHECKED_AT)
    # The table name comes from _meta; values are parameters.
    sql = (
        f"SELECT string_agg({entry}, ',' ORDER BY id) FROM {Site._meta.db_table}"  # noqa: S608
        " WHERE project_id = ANY(%s)"
    )
    zone = timezone.get_current_timezone_name()
    with transaction.atomic(), connection.cursor() as cursor:
        if zone != "UTC":  # Django's connections run in UTC; format in the user's zone
            cursor.execute("SELECT set_config('TimeZone', %s, true)", [zone])
        cursor.execute(sql, [*up_params, list(project_ids)])
        [sites] = cursor.fetchone()
    return b'{"sites":[' + (sites or "").encode() + b"]}"
