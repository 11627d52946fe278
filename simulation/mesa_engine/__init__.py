"""The Mesa engine: the readable, inspectable reference run of the model."""

from .agents import Customer
from .model import JourneyModel

__all__ = ["Customer", "JourneyModel"]
