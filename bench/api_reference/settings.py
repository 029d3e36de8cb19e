"""The production settings plus the bench's reference endpoint (never part of a deployment)."""

from cartportal.settings import *  # noqa: F403

ROOT_URLCONF = "bench.api_reference.urls"
