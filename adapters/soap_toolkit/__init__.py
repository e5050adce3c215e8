"""The SOAP toolkit: SOAP 1.1/1.2 envelopes and faults, and hardened XML.

Not an adapter (nothing here is registered in ``adapters/registry.py``): a
protocol toolkit that front doors and adapters both use, so neither reaches
into another adapter's internals. It speaks lxml elements and bytes, never the
canonical model, and raises its own ``ValueError``s; each user translates them
into its own terms at its edge (a typed adapter error, a SOAP fault to send).

- ``hardened_xml``: parsing untrusted XML (no DTD, entities, network or huge
  trees; a size limit before parsing) and namespaced element helpers;
- ``envelope``: SOAP versions with their media types and action headers,
  envelopes, the one-element Body, and faults both ways.
"""
