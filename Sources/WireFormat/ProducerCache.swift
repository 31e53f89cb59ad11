/// Reuses the previous message's producer String when the next message names the same producer,
/// and refuses names longer than ``MessageDecoder/maxProducerBytes``.
///
/// A stream almost always comes from one producer (or a few, interleaved), so comparing the raw
/// header bytes against the last ones turns a String allocation per message into a short `memcmp`.
/// The cache holds at most one name of at most `6 × maxProducerBytes` raw bytes.
struct ProducerCache: Sendable {
    private var raw: [UInt8] = []
    private var cached: String?

    /// The producer named by `token`, reusing the cached String when the raw bytes are the same.
    /// - Throws: ``WireError/producerTooLong(bytes:limit:excerpt:)`` for a name over the limit
    ///   (checked before anything is kept: a peer chooses the length).
    mutating func producer(_ token: JSONScanner.StringToken, in scanner: JSONScanner) throws(WireError) -> String {
        let bytes = scanner.rawBytes(token)
        if let cached, bytes.elementsEqual(raw) { return cached }
        let limit = MessageDecoder.maxProducerBytes
        // Decoding never lengthens a JSON string (an escape is ≥ 2 raw bytes for ≤ 4 decoded), and
        // at most 6 raw bytes decode to 1: beyond 6 × limit raw bytes the name is too long undecoded.
        guard bytes.count <= 6 * limit else {
            throw .producerTooLong(bytes: bytes.count, limit: limit, excerpt: ByteExcerpt.text(bytes, empty: ""))
        }
        let decoded = scanner.decode(token)
        guard decoded.utf8.count <= limit else {
            throw .producerTooLong(bytes: decoded.utf8.count, limit: limit, excerpt: ByteExcerpt.text(decoded))
        }
        raw.removeAll(keepingCapacity: true)
        raw.append(contentsOf: bytes)
        cached = decoded
        return decoded
    }
}
