"""Studies built on the simulation: searches and analyses that run many scenarios and
judge them (the optimiser of strategies, ``optimise``)."""
