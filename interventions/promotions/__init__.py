"""Weekly promotions: for every consenting customer, the three categories most likely to be in their next order.
`features` reads purchases and browsing into per (customer, category) frames, `ranking` learns and checks the
ranking, `model` runs the check at a cut-off and fits what writes the offers (the ranker, and the regressor of each
offer's predicted order value), `services` writes a week's offers, `selectors` reads them back, and `evaluate`
runs the same check on an order export (`manage.py evaluate_promotions`)."""
