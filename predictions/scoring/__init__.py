"""Batch scoring: customer features at a cut-off, scorer objects, and the chunked COPY pipeline."""
