"""Shared Python helpers for esimd's test world: DER, SGP.22 crypto, SCP03t, simulator control."""
