"""The v1 contract every layer shares: typed requests and results, v1 codes, face attributes; imports no proxy code."""
