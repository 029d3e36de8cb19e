"""Recommendations from purchase history: item-item neighbours, implicit matrix factorisation, popularity."""
