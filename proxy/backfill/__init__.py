"""`v1proxy backfill`: re-enrol a legacy face archive into v3 through the live translation, resumably."""
