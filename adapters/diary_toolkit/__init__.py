"""The diary toolkit: what the REST and SOAP diary adapters (and their peers) share.

Not an adapter (nothing here is registered in ``adapters/registry.py``): a
protocol toolkit that adapters build on, so that no adapter imports another's
internals. Two suppliers' diaries that carry the same facts on different wires
share:

- ``records``: the diary's own records (clinics, clinicians, slots, patients,
  appointments), validated as untrusted input;
- ``convert``: records <-> the canonical model, through the mapping tables;
- ``mappings``: the supplier code tables (``mappings/rest_diary/README.md``
  layout), validated on load;
- ``peer``: the reference peers' SQLite diary engine, its seed world and the
  protocol-neutral fault injection.
"""
