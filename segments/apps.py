from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "segments"

    def ready(self) -> None:
        from cartportal import extensions
        from segments import tasks

        # A published scoring run has its regions' segments rebuilt (queued once, after the commit).
        extensions.scoring_published.connect(tasks.rebuild_after_scoring, dispatch_uid="segments-rebuild-after-scoring")
        extensions.register_demo_builder(20, "segments.demo.build_demo")
        # The analysis pages' customer-segment filter.
        from segments import filters

        extensions.customer_segment_choices.register(filters.segment_choices)
        extensions.customer_segment_sql.register(filters.segment_members_sql)
