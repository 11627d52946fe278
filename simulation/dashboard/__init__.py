"""``cxsim dashboard``: a Mesa SolaraViz page to watch one run live and set it beside many.

``model`` turns the page's controls into a JourneyModel; ``drawing`` draws the journey map
and the plots (matplotlib, no solara); ``comparison`` runs the batch engine for the band
panel; ``components`` wraps drawings as solara components; ``app`` assembles the page.
Nothing in the package imports this subpackage.
"""
