"""The BaRS receiver front door: the Booking and Referral Standard (FHIR R4, UK Core).

Mounted by the gateway process at its own service root (``bars.service_root``)
beside the STU3 surface, over the same booking service, router, ledger,
versions and adapters. Small modules, as the STU3 door:

- ``errors``: the one table of ``REC_*`` codes and statuses;
- ``headers``: X-Request-Id / X-Correlation-Id, NHSD-* identity, Accept version;
- ``targets``: NHSD-Target-Identifier -> the gateway's service id;
- ``render``: domain values -> UK Core R4 resources;
- ``appointment``/``search``: request bodies and parameters -> domain values;
- ``capability``: the R4 CapabilityStatement;
- ``wire``: FHIR JSON and XML in and out;
- ``requests``: what every handler does with its request (headers, body, answer);
- ``booking``: book, cancel and find held appointments (REST and messaging alike);
- ``metadata``, ``slots``, ``appointments``, ``amend`` (update, reschedule), ``referrals``,
  ``messaging*``: the handlers; ``patients``: who an appointment search is for;
- ``handlers``: the table of interactions (``INTERACTIONS``) and the routes;
- ``door``: the sub-application and its middleware; ``listener``: its mTLS listener.
"""
