import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The personas get passwords; a fast hasher keeps the many small API tests quick (no login uses them)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
