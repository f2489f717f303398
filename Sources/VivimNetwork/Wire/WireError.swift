/// Errors raised by every decoder of network input in VivimNetwork.
///
/// Decoders never trap on malformed input: they throw one of these, so a
/// connection can be closed and a fuzzer can keep going.
public enum WireError: Error, Equatable, Sendable {
    /// Input ended before a complete value was read.
    case truncated
    /// A varint used more than the allowed number of bytes or overflowed 64 bits.
    case varintOverflow
    /// A varint used more bytes than needed (non-minimal encoding, rejected by unsigned-varint spec).
    case varintNotMinimal
    /// A length prefix exceeded the limit of the message being decoded.
    case lengthExceedsLimit(length: UInt64, limit: Int)
    /// A protobuf wire type this codec does not accept (groups, or an unknown one).
    case unsupportedWireType(UInt8)
    /// A field had the wrong wire type for its declared type.
    case wrongWireType(field: UInt64)
    /// A protobuf field number of zero or out of range.
    case invalidFieldNumber
    /// A message had more repeated entries than allowed.
    case tooManyElements(limit: Int)
    /// A required field was missing.
    case missingField(String)
    /// The value was structurally valid but semantically wrong.
    case invalidValue(String)
}
