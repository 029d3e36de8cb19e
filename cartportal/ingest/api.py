"""Import through the API: JSON batches (`{"rows": [...]}`, imported in the request) or a file upload (imported on a
worker: 202 with the job), through the same pipeline as the portal and the commands; import jobs, their quarantine
and their data-quality report are readable."""

from __future__ import annotations

import django_filters
from django.http import Http404
from django.urls import path, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from cartportal.access import refuse_as_missing
from cartportal.api.base import CsvExportMixin, error_response
from cartportal.api.parsers import CheckedJSONParser
from cartportal.models import JobRun, QuarantinedRow

from . import selectors
from .entities import LOADERS
from .pipeline import ImportOptions
from .quality import region_quality
from .reader import records_to_csv_bytes
from .services import import_enqueue, import_run

MAX_BATCH_ROWS = 50_000


def visible_job_or_404(user, job_id: int) -> JobRun:
    job = selectors.visible_job(user, job_id)
    if job is None:
        region_ids = list(JobRun.objects.filter(pk=job_id).values_list("region_id", flat=True))
        refuse_as_missing(
            user,
            action="view",
            what="import job",
            object_id=str(job_id) if region_ids else None,
            region_id=region_ids[0] if region_ids else None,
        )
    return job


class ImportJobSerializer(serializers.ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = JobRun
        fields = [
            "id",
            "kind",
            "state",
            "progress",
            "message",
            "region",
            "counts",
            "error",
            "created_at",
            "finished_at",
        ]


class QuarantinedRowSerializer(serializers.ModelSerializer):
    class Meta:
        model = QuarantinedRow
        fields = ["line", "column", "code", "message", "raw"]


class ImportBatchResultSerializer(ImportJobSerializer):
    quarantine = serializers.ListField(child=serializers.DictField(), help_text="each refused row, with its `row`")

    class Meta(ImportJobSerializer.Meta):
        fields = [*ImportJobSerializer.Meta.fields, "quarantine"]


class ImportAcceptedSerializer(ImportJobSerializer):
    status_url = serializers.CharField(help_text="GET it to follow the job: state, progress, counts, quality")

    class Meta(ImportJobSerializer.Meta):
        fields = [*ImportJobSerializer.Meta.fields, "status_url"]


class BatchSerializer(serializers.Serializer):
    rows = serializers.ListField(
        child=serializers.JSONField(), allow_empty=False, max_length=MAX_BATCH_ROWS, required=False
    )
    file = serializers.FileField(required=False)
    region = serializers.CharField(required=False, allow_blank=True)
    mapping = serializers.DictField(child=serializers.CharField(), required=False)
    date_format = serializers.CharField(required=False, allow_blank=True)

    def validate(self, attrs):
        if bool(attrs.get("rows")) == bool(attrs.get("file")):
            raise serializers.ValidationError({"rows": ["Send either rows (a JSON list of objects) or a file."]})
        return attrs


class ImportBatchView(APIView):
    parser_classes = [CheckedJSONParser, MultiPartParser, FormParser]
    serializer_class = BatchSerializer

    @extend_schema(exclude=True)
    def get(self, request, kind: str):
        # `imports/<not an id>/` lands here: a kind of rows is only for POST; anything else is a missing job.
        if kind in LOADERS:
            raise MethodNotAllowed("GET")
        raise Http404("No import job matches the given query.")

    @extend_schema(
        request=BatchSerializer,
        responses={201: ImportBatchResultSerializer, 202: ImportAcceptedSerializer},
        summary="Import a batch",
        description=(
            "JSON `rows` (up to 50,000) are imported in the request: 201 with the counts and each refused row. A "
            "multipart `file` is imported on a worker: 202 with the job (`state` queued) and `status_url`, which "
            "answers the job with its counts and quality report once it has ended. A body larger than the upload "
            "limit answers 413."
        ),
    )
    def post(self, request, kind: str):
        if kind not in LOADERS:
            return error_response(404, "not_found", f"Unknown import kind {kind!r}; one of: {', '.join(LOADERS)}.")
        batch = BatchSerializer(data=request.data)
        batch.is_valid(raise_exception=True)
        data = batch.validated_data
        options = ImportOptions(
            kind=kind,
            mapping=data.get("mapping") or {},
            region=data.get("region") or None,
            date_format=data.get("date_format") or None,
            filename=getattr(data.get("file"), "name", "api-batch"),
        )
        if data.get("file"):
            job = import_enqueue(actor=request.user, uploaded_file=data["file"], options=options)
            body = ImportJobSerializer(job).data
            body["status_url"] = reverse("api-import", kwargs={"job_id": job.pk})
            return Response(body, status=202, headers={"Location": body["status_url"]})
        header: list[str] = []
        for row in data["rows"]:
            for key in row if isinstance(row, dict) else []:
                if key not in header:
                    header.append(str(key))
        if not header:
            return error_response(
                400,
                "invalid",
                "rows must be JSON objects with field names as keys.",
                {"rows": ["No row is an object."]},
            )
        rows = [r if isinstance(r, dict) else {} for r in data["rows"]]
        options.row_errors = {
            i + 2: ("not_an_object", f"Row {i + 1} is not a JSON object.")
            for i, r in enumerate(data["rows"])
            if not isinstance(r, dict)
        }
        job = import_run(actor=request.user, source=records_to_csv_bytes(header, rows), options=options)
        problems = QuarantinedRow.objects.filter(job=job).order_by("line")[:500]
        body = ImportJobSerializer(job).data
        body["quarantine"] = [{**QuarantinedRowSerializer(p).data, "row": p.line - 1} for p in problems]
        return Response(body, status=201)


class ImportJobFilter(django_filters.FilterSet):
    region = django_filters.CharFilter(field_name="region__code", help_text="Region code")

    class Meta:
        model = JobRun
        fields = ["state", "kind", "region"]


class ImportJobList(CsvExportMixin, ListAPIView):
    serializer_class = ImportJobSerializer
    filterset_class = ImportJobFilter
    ordering_fields = ["created_at", "id"]

    def get_queryset(self):
        return selectors.import_jobs(self.request.user)


class ImportJobDetail(RetrieveAPIView):
    serializer_class = ImportJobSerializer

    def get_object(self):
        return visible_job_or_404(self.request.user, self.kwargs["job_id"])

    def retrieve(self, request, *args, **kwargs):
        job = self.get_object()
        body = ImportJobSerializer(job).data
        body["quality"] = selectors.quality_for_job(request.user, job)
        return Response(body)


class ImportQuarantineList(ListAPIView):
    serializer_class = QuarantinedRowSerializer
    filterset_fields = ["code"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return QuarantinedRow.objects.none()
        job = visible_job_or_404(self.request.user, self.kwargs["job_id"])
        return selectors.quarantine_for(self.request.user, job)


class RegionQualityView(APIView):
    @extend_schema(
        responses=OpenApiTypes.OBJECT,
        summary="Data quality per visible region (?region=CODE for one), on six dimensions: counts, rates, examples",
    )
    def get(self, request):
        code = request.query_params.get("region") or None
        return Response({"regions": region_quality(request.user, code), "help": selectors.DIMENSION_HELP})


urlpatterns = [
    path("imports/", ImportJobList.as_view(), name="api-imports"),
    path("imports/quality/", RegionQualityView.as_view(), name="api-import-quality"),
    path("imports/<int:job_id>/", ImportJobDetail.as_view(), name="api-import"),
    path("imports/<int:job_id>/quarantine/", ImportQuarantineList.as_view(), name="api-import-quarantine"),
    path("imports/<str:kind>/", ImportBatchView.as_view(), name="api-import-batch"),
]
