"""Win back: the ranked list of dormant customers (from predictions) turned into a drafted campaign."""
