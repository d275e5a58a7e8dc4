"""The migration report: per tenant × op agreement, verdicts, score scatter, noise, latency, outbox."""
