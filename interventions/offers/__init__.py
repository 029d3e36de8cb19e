"""Content providers: the modules that choose what an intervention offers one customer (see `content`)."""
