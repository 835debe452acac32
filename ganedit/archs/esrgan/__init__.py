"""ESRGAN / Real-ESRGAN: the RRDBNet and SRVGGNetCompact super-resolution networks.

- :mod:`.rrdb`, :mod:`.srvgg`: the networks, with BasicSR's / Real-ESRGAN's state dict keys.
- :mod:`.spec`: :class:`~.spec.RRDBNetSpec`, :class:`~.spec.SRVGGSpec` and their ids
  (torch-free).
- :mod:`.detect`: recognising both from a state dict (ESRGAN's older key layouts are
  converted), and the two registry entries.

Import from those modules (or from :mod:`ganedit.archs` for the public names).
"""
