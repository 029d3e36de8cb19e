"""Allocating customers between a campaign's arms (Thompson sampling) and evaluating any allocation policy
off-policy on logged experiments (IPW, self-normalised IPW, doubly robust)."""
