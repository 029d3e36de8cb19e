"""Win-back: rank the customers who bought in a base period and then stayed dormant by their chance of buying
again in the following target period, trained on the window one period earlier."""
