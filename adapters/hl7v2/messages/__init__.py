"""HL7 v2 messages of this adapter's dialect: the ER7 codec, headers, ACKs, scheduling."""
