"""Content providers of the interventions (see interventions.content)."""
