"""The reference endpoint of bench/api.py, served only when gunicorn runs with `bench.api_reference.settings`."""
