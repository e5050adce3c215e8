"""The ITK 2.2 toolkit: the distribution envelope, its SOAP wrapping, acknowledgements and faults.

Not an adapter (nothing here is registered in ``adapters/registry.py``): a
protocol toolkit that the ITK front door (``gateway/itk``, receiving 111
reports) and the ITK sender adapter (towards legacy providers) both use, so
neither reaches into the other's modules. It is built on ``adapters.soap_toolkit``
(envelopes, faults, hardened XML), speaks lxml elements, dataclasses and bytes,
never the canonical model, and raises ``ItkError`` (a ``ValueError`` carrying
the ``ToolkitCode`` to answer with and a diagnostic free of patient data).

Public API:

- ``names``: namespaces (``urn:nhs-itk:ns:201005``, WS-Addressing, WS-Security,
  HL7 v3), handling-specification keys, ack services and interactions, ODS and
  DoS address types;
- ``distribution``: ``DistributionEnvelope`` (service, tracking id, address
  list, sender, audit identity, manifest items with id/mimetype/profileid,
  handling specification: ``interaction``, ``business_ack_requested``;
  payloads), ``Address`` (``kind`` ods/dos, ``key``), ``ManifestItem``,
  ``Payload``; ``read_distribution(element)``, ``distribution_element(envelope)``
  and ``check_manifest(envelope)`` (the ITK manifest/payload rules);
- ``headers``: ``Addressing``, ``Security``, their elements and readers, ``new_id``;
- ``message``: ``ItkMessage`` (SOAP version, ``Addressing``: Action, MessageID,
  To, ReplyTo, From, RelatesTo; ``Security``: Timestamp Created/Expires and
  UsernameToken; the distribution envelope), ``read_message(bytes, max_bytes=,
  max_depth=)``, ``build_message(message)``, ``parse_soap`` and ``depth``;
- ``acks``: the synchronous infrastructure ack (``simple_response`` /
  ``read_simple_response``: SimpleMessageResponse ``OK:<tracking id>``), the
  ITK ``InfrastructureAck`` and ``BusinessAck`` (HL7 v3 BusinessResponseMessage)
  as elements and in their own distribution envelopes, both ways;
- ``errors``: ``ToolkitCode``, the one table of ToolkitErrorInfo codes (1000
  invalid message, 2000 service/interaction/address not served, 3000 payload
  not accepted or processing failed), ``ToolkitErrorInfo``, ``ItkError``,
  ``build_fault(version, info, sender=)`` and ``parse_fault(bytes)``.

Importing this package imports none of them.
"""
