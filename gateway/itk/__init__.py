"""The ITK 2.2 front door: NHS 111 reports (CDA in ITK SOAP) from legacy 111 and CAS systems.

Served by the gateway's own HTTP server as a sub-application at ``itk.path``
(``gateway/app.py``). A message is read with the ITK toolkit
(``adapters/itk_toolkit``: hardened XML, SOAP 1.1/1.2, WS-Addressing,
WS-Security, the DistributionEnvelope), checked against the door's tables
(``mappings/itk/``), claimed by its tracking id in the store, its CDA read into
a ``Referral`` by the CDA toolkit and stored through the referral service (so
it links with the booking whose DocumentReference names the CDA), and answered
with the infrastructure ack, carrying a business ack when asked, or an ITK
fault from the toolkit's one table of ToolkitErrorInfo codes.

- ``tables``: services, interactions and addresses, validated on load;
- ``validate``: the envelope checks, in the order a sender is told of them;
- ``reading``: the payloads to one referral (the CDA toolkit reads the document);
- ``receive``: one message from bytes to answer (tracking ids, referral service);
- ``answers``: acks and faults as SOAP with their HTTP status;
- ``door``: the sub-application, its log line and audit row.
"""
