/// Reuses the previous message's producer String when the next message names the same producer.
///
/// A stream almost always comes from one producer (or a few, interleaved), so comparing the raw
/// header bytes against the last ones turns a String allocation per message into a short `memcmp`.
struct ProducerCache: Sendable {
    private var raw: [UInt8] = []
    private var cached: String?

    /// The producer named by `token`, reusing the cached String when the raw bytes are the same.
    mutating func producer(_ token: JSONScanner.StringToken, in scanner: JSONScanner) -> String {
        let bytes = scanner.rawBytes(token)
        if let cached, bytes.elementsEqual(raw) { return cached }
        let decoded = scanner.decode(token)
        raw.removeAll(keepingCapacity: true)
        raw.append(contentsOf: bytes)
        cached = decoded
        return decoded
    }
}
