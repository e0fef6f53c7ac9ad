"""Frozen copies of rules/ before it was optimised: the reference of tests/rules/test_differential.py."""
