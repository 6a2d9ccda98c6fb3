"""From a submission's files to a staged course layout: discover, detect, stage.

``discover`` finds the student's modules wherever they sit, ``detect`` decides which course spec
fits them (with the evidence), and ``stage`` writes the workspace the child imports (the course
layout, the trusted given modules, stand-ins) and the runtime it runs from.
"""
