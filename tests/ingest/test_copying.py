"""The one conversion of rows to COPY text that both load paths use: each column is written for its SQL type,
whatever dtype pandas gave it (integer ids with gaps arrive as floats or as objects mixing ints and NA)."""

import numpy as np
import pandas as pd
import pytest
from django.db import connection

from cartportal.ingest.copying import copy_rows, copy_text

TYPES = {"id": "bigint", "price": "numeric", "at": "timestamptz", "flag": "bool", "name": "text"}


def frame(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


def test_integers_with_gaps_are_written_as_whole_numbers_and_nulls():
    floats = frame(id=[45.0, np.nan, 7.0])
    mixed = frame(id=pd.Series([45, None, 7], dtype=object))
    nullable = frame(id=pd.array([45, pd.NA, 7], dtype="Int64"))
    for rows in (floats, mixed, nullable):
        assert copy_text(rows, {"id": "bigint"}).splitlines() == ["45", "\\N", "7"]


def test_empty_numbers_dates_flags_and_texts_are_nulls():
    rows = frame(
        id=[1, 2],
        price=[4.5, np.nan],
        at=pd.to_datetime(["2024-03-01 10:00:00", None], utc=True),
        flag=pd.Series([True, None], dtype=object),
        name=pd.Series(["Mug", None], dtype=object),
    )
    assert copy_text(rows, TYPES).splitlines() == [
        "1,4.5,2024-03-01T10:00:00.000000+00,true,Mug",
        "2,\\N,\\N,\\N,\\N",
    ]


@pytest.mark.django_db
def test_the_text_loads_into_postgresql_with_the_same_values():
    rows = frame(
        id=[45.0, np.nan],
        price=pd.Series([12.3456, None], dtype=object),
        at=pd.to_datetime(["2024-03-01 10:00:00+02:00", None], utc=True),
        flag=pd.Series([False, None], dtype=object),
        name=['a,"quoted" text', None],
    )
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE t (id bigint, price numeric(12,4), at timestamptz, flag bool, name text)")
        copy_rows(cursor, "t", rows, TYPES)
        cursor.execute(
            "SELECT id, price::text, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), flag, name FROM t"
        )
        assert cursor.fetchall() == [
            (45, "12.3456", "2024-03-01 08:00", False, 'a,"quoted" text'),
            (None, None, None, None, None),
        ]
