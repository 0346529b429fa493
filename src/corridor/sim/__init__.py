"""Deterministic simulation of a whole network in one process (STYLE 11).

A seeded virtual clock and message scheduler (`network`), nodes made of the node's own
consensus shell, `NodeCore` and machine on in-memory stores (`node`), Byzantine validators
(`byzantine`), the properties every run must keep (`checkers`), and the recipe of one run
(`run.simulate`). `python -m corridor.sim.soak --seeds N` runs many seeds and fails on any
violation.
"""

from corridor.sim.run import MIXES, FaultMix, SimReport, Simulation, simulate

__all__ = ["MIXES", "FaultMix", "SimReport", "Simulation", "simulate"]
