"""Pure translation between v1 and v3: ids, scores, error map, field mapping. No I/O."""
