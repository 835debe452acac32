"""Architectures imported through spandrel: every network spandrel detects that ganedit does
not implement itself (SwinIR, HAT, DAT, SPAN, OmniSR, RealCUGAN, LaMa, ...).

``facts`` is ganedit's table about each (route to ONNX or the torch backend, licence, padding,
batch limit, a tiny example); ``detect`` makes the registry entries; ``network`` wraps spandrel's
model for export; ``spec`` describes it for the model card; ``dft`` lets LaMa export.
"""
