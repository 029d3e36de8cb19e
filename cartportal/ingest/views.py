"""Data tab: upload an export (progress follows on the import page), browse imports, quarantine and quality."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render

from cartportal.access import region_ids_for, visible_regions
from cartportal.pages.export import csv_response, wants_csv
from cartportal.pages.filters import region_filter
from cartportal.services import DomainError

from . import selectors
from .entities import LOADERS
from .pipeline import ImportOptions
from .quality import CSV_HEADER, DIMENSIONS, flat_rows, region_quality
from .services import import_enqueue


class UploadForm(forms.Form):
    kind = forms.ChoiceField(choices=[(k, v.spec.label) for k, v in LOADERS.items()], label="What the file holds")
    file = forms.FileField(help_text="CSV (any delimiter, UTF-8 or Windows-1252) or .xlsx")
    region = forms.ChoiceField(required=False, help_text="For every row, unless the file has a region column")
    date_format = forms.CharField(required=False, help_text="e.g. %d/%m/%Y %H:%M — detected when empty")
    currency = forms.RegexField(
        regex=r"^[A-Za-z]{3}$",
        required=False,
        max_length=3,
        help_text="The shop's currency (ISO code such as EUR); regions the file creates carry it",
        error_messages={"invalid": "Write a three-letter currency code such as EUR or GBP."},
    )
    mapping = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One field=column per line, e.g. customer=Kunden-Nr; other columns are matched by name",
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = [("", "From the file")] + [
            (r.code, f"{r.code} — {r.name}") for r in visible_regions(user, "import")
        ]

    def clean_mapping(self) -> dict:
        mapping = {}
        for number, line in enumerate(self.cleaned_data["mapping"].splitlines(), start=1):
            if not line.strip():
                continue
            if "=" not in line:
                raise forms.ValidationError(f"Line {number}: write field=column.")
            name, column = (p.strip() for p in line.split("=", 1))
            mapping[name] = column
        return mapping


@login_required
def imports(request):
    form = UploadForm(request.POST or None, request.FILES or None, user=request.user)
    may_import = region_ids_for(request.user, "import") != []
    if request.method == "POST":
        if not may_import:
            raise Http404("No import rights.")
        if form.is_valid():
            data = form.cleaned_data
            options = ImportOptions(
                kind=data["kind"],
                mapping=data["mapping"],
                region=data["region"] or None,
                date_format=data["date_format"] or None,
                filename=data["file"].name,
                currency=data["currency"].upper(),
            )
            try:
                job = import_enqueue(actor=request.user, uploaded_file=data["file"], options=options)
            except DomainError as error:
                form.add_error(None, str(error))
            else:
                messages.info(request, f"Import #{job.pk} started; this page follows its progress.")
                return redirect("ingest:import", job_id=job.pk)
    jobs = selectors.import_jobs(request.user)
    if wants_csv(request):
        return csv_response(
            "imports.csv",
            ["id", "kind", "state", "read", "loaded", "cancellations", "quarantined", "duplicates", "created_at"],
            (
                [
                    j.pk,
                    j.kind,
                    j.state,
                    *(j.counts.get(k, "") for k in ("read", "loaded", "cancellations", "quarantined", "duplicates")),
                    j.created_at.isoformat(),
                ]
                for j in jobs.iterator()
            ),
        )
    page = Paginator(jobs, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "ingest/imports.html",
        {"form": form, "page": page, "may_import": may_import, "kinds": [v.spec for v in LOADERS.values()]},
    )


@login_required
def import_detail(request, job_id: int):
    job = selectors.visible_job(request.user, job_id)
    if job is None:
        raise Http404("No import matches the given query.")
    rows = selectors.quarantine_for(request.user, job)
    code = request.GET.get("code", "")
    if code:
        rows = rows.filter(code=code)
    if wants_csv(request):
        return csv_response(
            f"import-{job.pk}-quarantine.csv",
            ["line", "column", "code", "message", "raw"],
            rows.values_list("line", "column", "code", "message", "raw").iterator(),
        )
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    counts = job.counts or {}
    return render(
        request,
        "ingest/import.html",
        {
            "job": job,
            "page": page,
            "code": code,
            "quality": selectors.quality_for_job(request.user, job),
            "codes": sorted((counts.get("by_code") or {}).items()),
            "summary": [
                (k, counts.get(k))
                for k in ("read", "loaded", "cancellations", "quarantined", "duplicates", "erased_skipped")
                if k != "erased_skipped" or counts.get(k)
            ],
        },
    )


@login_required
def quality(request):
    rf = region_filter(request)
    report = region_quality(request.user, rf.code or None)
    if wants_csv(request):
        return csv_response("data-quality.csv", CSV_HEADER, flat_rows(report))
    page = Paginator(report, 20).get_page(request.GET.get("page"))
    return render(
        request,
        "ingest/quality.html",
        {"page": page, "region_filter": rf, "dimensions": [(d, selectors.DIMENSION_HELP[d]) for d in DIMENSIONS]},
    )
