"""Repurchase and customer value: a buy-till-you-die baseline and a machine-learned model, chosen on a holdout."""
