"""A database error during an import ends it cleanly: the chunk in flight rolls back, the job is marked failed
with the reason, and the command still prints its JSON summary (with `failed`) as its last line.

The error is a real one from PostgreSQL: each line's amount fits its column, but the order's total (the sum of
its lines) does not fit numeric(14, 2)."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from cartportal.models import JobRun, Order, OrderLine, QuarantinedRow

GOOD = "invoice,customer,date,quantity,price\n1001,C1,2024-03-01 10:00,1,12.50\n1002,C2,2024-03-02 11:00,2,4.00\n"
# two lines of one invoice, each 2,000,000,000 × 300 = 6 * 10^11 (fits numeric(14, 2)), whose total does not
OVERFLOW = "1003,C1,2024-03-03 09:00,2000000000,300\n1003,C1,2024-03-03 09:00,2000000000,300.01\n"
ARGS = ["--customer-col", "customer", "--date-col", "date", "--quantity-col", "quantity", "--price-col", "price"]
ARGS += ["--invoice-col", "invoice"]


def run(path) -> tuple[int, list[str]]:
    out = StringIO()
    status = 0
    try:
        call_command("import_transactions", str(path), *ARGS, "--region", "NORTH", stdout=out)
    except SystemExit as exit:
        status = exit.code
    return status, out.getvalue().strip().splitlines()


@pytest.mark.django_db
def test_a_database_error_fails_the_import_with_a_json_summary(tmp_path, world):
    path = tmp_path / "overflow.csv"
    path.write_text(GOOD + OVERFLOW)
    status, lines = run(path)
    assert status == 1
    result = json.loads(lines[-1])
    assert "numeric field overflow" in result["failed"] and "lines 2-5" in result["failed"]
    # the whole chunk rolled back, and the counts say so
    assert (result["read"], result["loaded"], result["quarantined"], result["duplicates"]) == (0, 0, 0, 0)
    assert Order.objects.count() == OrderLine.objects.count() == 0
    job = JobRun.objects.get(pk=result["job"])
    assert job.state == JobRun.State.FAILED and job.error == result["failed"]
    assert job.counts["failed"] == result["failed"]
    assert not QuarantinedRow.objects.filter(job=job).exists()

    # the connection is usable afterwards: the same file without the faulty invoice loads
    path.write_text(GOOD)
    status, lines = run(path)
    result = json.loads(lines[-1])
    assert status == 0 and result["failed"] is None
    assert (result["read"], result["loaded"]) == (2, 2)
    assert OrderLine.objects.count() == 2
