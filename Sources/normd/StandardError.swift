/// Writes user-facing lines (problems, summaries) to stderr. Through `StandardErrorWriter`, so a
/// full or closed stderr drops the line instead of trapping.
enum StandardError {
    static func print(_ line: String) {
        StandardErrorWriter.write(line + "\n")
    }
}
