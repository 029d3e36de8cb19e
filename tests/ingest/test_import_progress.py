"""An import's progress follows the rows read against the rows of the file, for a workbook as for a CSV: it used to
count the newline bytes of the compressed .xlsx archive, so a workbook read 99 % after its first chunk."""

from __future__ import annotations

import re
import zipfile

import pytest
from openpyxl import Workbook

from cartportal.access import SystemActor
from cartportal.ingest import services
from cartportal.ingest.pipeline import ImportOptions
from cartportal.ingest.pipeline import run as pipeline_run
from cartportal.ingest.reader import open_table
from cartportal.models import Customer, JobRun

ROWS, CHUNK = 2500, 500


def customers(ws, rows: int) -> None:
    ws.append(["customer_id", "name", "signup_date"])
    for i in range(rows):
        ws.append([f"CU-{i:05d}", f"Person {i}", f"2024-03-{1 + i % 28:02d} 10:00"])


def progress_of_an_import(path, world, monkeypatch) -> tuple[list[float], JobRun]:
    reported = []
    real = pipeline_run.job_progress

    def progress(job_id, value, **kwargs):
        reported.append(value)
        real(job_id, value, **kwargs)

    monkeypatch.setattr(pipeline_run, "job_progress", progress)
    options = ImportOptions(kind="customers", region=world.region_a.code, filename=path.name)
    job = services.import_run(actor=SystemActor("task:import"), source=path, options=options)
    return reported, job


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_progress_is_rows_read_over_the_rows_of_the_file(world, tmp_path, settings, monkeypatch, suffix):
    settings.CARTPORTAL_IMPORT_CHUNK_ROWS = CHUNK
    path = tmp_path / f"customers{suffix}"
    if suffix == ".xlsx":
        book = Workbook()
        customers(book.active, ROWS)
        book.save(path)
    else:
        path.write_text(
            "customer_id,name,signup_date\n"
            + "".join(f"CU-{i:05d},Person {i},2024-03-{1 + i % 28:02d} 10:00\n" for i in range(ROWS))
        )
    reported, job = progress_of_an_import(path, world, monkeypatch)
    lines = ROWS + 1  # the header is line 1
    expected = [99.0 * min(lines, 1 + CHUNK * n) / lines for n in range(1, ROWS // CHUNK + 1)]
    assert reported == pytest.approx(expected, abs=0.01)  # 19.8, 39.6, ... not 99 from the first chunk
    assert job.state == JobRun.State.SUCCEEDED and job.progress == 100 and job.counts["loaded"] == ROWS
    assert Customer.objects.count() == ROWS


def test_a_workbook_whose_dimension_says_a1_still_counts_its_rows(tmp_path):
    """Some writers declare the dimension "A1" whatever the sheet holds: the rows are counted from the sheet."""
    book = Workbook()
    customers(book.active, 40)
    path = tmp_path / "c.xlsx"
    book.save(path)
    patched = tmp_path / "a1.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(patched, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data, replaced = re.subn(rb'<dimension ref="A1:C41"\s*/>', b'<dimension ref="A1"/>', data)
                assert replaced == 1
            target.writestr(item, data)
    assert open_table(patched).total_lines == 41
