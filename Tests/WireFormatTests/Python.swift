import Foundation
import Testing

/// Runs `python3 -c script` (with NumPy) and returns its stdout.
///
/// The wire format's contract is "what pyzmq and NumPy produce and consume", so tests generate and
/// check bytes with the real thing. A missing python3 or numpy fails the test: it must not skip.
enum Python {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func run(_ script: String, input: [UInt8] = []) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import sys, io, json\nimport numpy as np\n" + script]
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        try stdin.fileHandleForWriting.write(contentsOf: Data(input))
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(
                description: "python3 exited with \(process.terminationStatus) (python3 and numpy are required): "
                    + String(decoding: errors, as: UTF8.self))
        }
        return Array(output)
    }

    /// Runs a script that sets `frames` to a list of bytes objects, and returns them.
    static func frames(_ script: String) throws -> [[UInt8]] {
        let output = try run(script + "\nprint(json.dumps([f.hex() for f in frames]))")
        let hexes = try JSONSerialization.jsonObject(with: Data(output)) as! [String]
        return hexes.map(bytes(hex:))
    }

    /// Runs `script` with `frames` (a list of bytes) defined and returns what it prints, parsed as JSON.
    static func check(_ frames: [[UInt8]], _ script: String) throws -> Any {
        let input = try JSONSerialization.data(withJSONObject: frames.map { $0.map { String(format: "%02x", $0) }.joined() })
        let output = try run("frames = [bytes.fromhex(h) for h in json.load(sys.stdin)]\n" + script, input: Array(input))
        return try JSONSerialization.jsonObject(with: Data(output), options: [.fragmentsAllowed])
    }

    static func bytes(hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }
}
