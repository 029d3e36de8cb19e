"""Price response: own-price elasticity per category (and per product where the history allows) from the shop's
order lines, with product and period effects and a confidence interval. `model` estimates, `selectors` reads
the history of the user's regions and keeps the estimate between requests."""
