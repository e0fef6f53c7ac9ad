"""The exchange database contract, a byte-identical copy of shared/contract (a test checks)."""
