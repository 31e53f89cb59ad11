// WireFormat
