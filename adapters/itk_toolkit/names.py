"""The namespaces and URIs of ITK 2.2 messaging (``urn:nhs-itk:ns:201005``)."""

from __future__ import annotations

from adapters.soap_toolkit.hardened_xml import Namespace

ITK_NS = "urn:nhs-itk:ns:201005"
WSA_NS = "http://www.w3.org/2005/08/addressing"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
HL7_NS = "urn:hl7-org:v3"

ITK = Namespace(ITK_NS)
WSA = Namespace(WSA_NS)
WSSE = Namespace(WSSE_NS)
WSU = Namespace(WSU_NS)
HL7 = Namespace(HL7_NS)

#: Prefixes our own messages declare on the SOAP envelope.
NSMAP = {"wsa": WSA_NS, "itk": ITK_NS, "wsse": WSSE_NS, "wsu": WSU_NS}

#: WS-Addressing's anonymous address: "answer on this HTTP exchange".
ANONYMOUS = "http://www.w3.org/2005/08/addressing/anonymous"
#: WS-Addressing's action of a SOAP fault.
FAULT_ACTION = "http://www.w3.org/2005/08/addressing/soap/fault"

#: handlingSpecification keys.
INTERACTION_KEY = "urn:nhs-itk:ns:201005:interaction"
BUSINESS_ACK_KEY = "urn:nhs-itk:ns:201005:ackrequested"
INFRASTRUCTURE_ACK_KEY = "urn:nhs-itk:ns:201005:infackrequested"

SERVICE_PREFIX = "urn:nhs-itk:services:201005:"
INFRASTRUCTURE_ACK_SERVICE = SERVICE_PREFIX + "SendInfrastructureAck-v1-0"
BUSINESS_ACK_SERVICE = SERVICE_PREFIX + "SendBusinessAck-v1-0"
INFRASTRUCTURE_ACK_INTERACTION = "urn:nhs-itk:interaction:ITKInfrastructureAcknowledgement-v1-0"
BUSINESS_ACK_INTERACTION = "urn:nhs-itk:interaction:ITKBusinessAcknowledgement-v1-0"

#: Address types: an ODS-code URI (the default) and a Directory of Services id.
ODS_ADDRESS_TYPE = "2.16.840.1.113883.2.1.3.2.4.18.22"
DOS_ADDRESS_TYPE = "2.16.840.1.113883.2.1.3.2.4.18.44"
ODS_ADDRESS_PREFIX = "urn:nhs-uk:addressing:ods:"
ODS_IDENTITY_PREFIX = "urn:nhs-uk:identity:ods:"
#: ToolkitErrorInfo/ErrorCode's code system.
ERROR_CODE_SYSTEM = "2.16.840.1.113883.2.1.3.2.4.17.268"
#: HL7 v3 interactionId root of ITK messages.
INTERACTION_ROOT = "2.16.840.1.113883.2.1.3.2.4.12"
