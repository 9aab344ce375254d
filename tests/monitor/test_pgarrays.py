"""Array literals handed to PostgreSQL must read back as the values they came from."""

from datetime import UTC, datetime

import pytest
from django.db import connection

from monitor.pgarrays import array_literal, int_array_literal

TEXTS = ["plain", 'quo"te', "back\\slash", "comma, {brace}", "", "NULL", "ünïcode", None]


def test_integer_arrays_keep_nulls_and_signs():
    assert int_array_literal([1, None, -3, 0]) == "{1,NULL,-3,0}"


def test_text_elements_are_quoted_and_escaped():
    assert array_literal(['a "b"', "c\\d", None]) == '{"a \\"b\\"","c\\\\d",NULL}'


def test_a_naive_datetime_is_refused():
    with pytest.raises(ValueError):
        array_literal([datetime(2026, 1, 1)])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL array syntax")
def test_postgresql_reads_every_literal_back_unchanged(db):
    moments = [datetime(2026, 11, 24, 7, 55, 13, 123456, tzinfo=UTC), None]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT %s::varchar[], %s::integer[], %s::timestamptz[]",
            [array_literal(TEXTS), int_array_literal([5, None, -7]), array_literal(moments)],
        )
        texts, ints, times = cursor.fetchone()
    assert texts == TEXTS
    assert ints == [5, None, -7]
    assert times == moments
