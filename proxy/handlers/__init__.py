"""Glue per v1 family: parse, translate, call v3, store, render."""
