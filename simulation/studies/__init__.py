"""Studies above single runs: robust decision making, scenario discovery, calibration and
the optimiser of strategies.

Samplers, evaluators and analysis are kept apart (as EMA Workbench keeps them): a study file
is read and validated by its ``*_file`` module, its runs go through the resumable result
store and the executors of ``simulation.store``/``simulation.executors``, and what is
computed from the stored runs (metrics, discovery, a calibration's posterior) takes plain
tables and never runs a model. Calibration to observed data (``calibrate``) keeps its search,
likelihoods and plots apart as well, and its posterior draws become worlds
(``posterior_worlds``); ``optimise`` searches strategies on common random numbers.
"""
