"""What every app's pages share: CSV export, the region filter, the rollup cache, the error pages.

This is core: domain apps import it; it imports no domain and not the composition layer (`cartportal.portal`).
"""
