"""Weekly promotions: for every consenting customer, the three category offers with the highest predicted order
value. `features` reads purchases and browsing into per (customer, category) frames, `model` trains and checks
the regressor on a time-based holdout, `services` writes a week's offers, `selectors` reads them back."""
