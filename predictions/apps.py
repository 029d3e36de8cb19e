from django.apps import AppConfig


class PredictionsConfig(AppConfig):
    name = "predictions"

    def ready(self) -> None:
        from cartportal import extensions
        from cartportal.models import Review
        from cartportal.pages import rollups
        from predictions import selectors  # noqa: F401  (registers its rollups with the core's cache)
        from predictions.abandonment import selectors as abandonment_selectors  # noqa: F401
        from predictions.models import ModelVersion, ScoringRun
        from predictions.price_response import selectors as price_response_selectors  # noqa: F401

        # The CLV rollups read the current value run: a newly published run makes every rollup stale.
        rollups.add_watermark_source(f"(SELECT max(published_at) FROM {ScoringRun._meta.db_table})")
        # The Abandonment tab's review friction reads the reviews: a new review makes the rollups stale.
        rollups.add_watermark_source(f"(SELECT max(id) FROM {Review._meta.db_table})")
        # Its open carts are scored with the active model: another model made active makes them stale.
        rollups.add_watermark_source(
            f"(SELECT string_agg(id::text, ',' ORDER BY id) FROM {ModelVersion._meta.db_table} "
            f"WHERE status = '{ModelVersion.Status.ACTIVE}')"
        )
        extensions.register_demo_builder(10, "predictions.demo.build_demo")
        # The review sentiment model (Abandonment tab): read from the shared cache, or fitted, before any request.
        extensions.register_web_process_warmup("predictions.reviews.default_model")
