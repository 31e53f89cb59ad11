import Foundation
import NormCore
import NpyFormat
import Testing

/// `.npy` files written and read by real NumPy. python3 with numpy is a test requirement: a
/// missing interpreter fails these tests instead of skipping them.
@Suite struct NumPyInteropTests {
    /// Runs `python3 -c script` in `directory`; fails the test on a non-zero exit.
    private func python(_ script: String, in directory: URL) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import numpy as np\n" + script]
        process.currentDirectoryURL = directory
        let output = directory.appendingPathComponent("python.out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        try handle.close()
        let text = try String(contentsOf: output, encoding: .utf8)
        try #require(process.terminationStatus == 0, "python3 with numpy is required: \(text)")
        return text
    }

    private func withDirectory(_ body: (URL) throws -> Void) throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("normd-npy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: url) }
        try body(url)
    }

    private func decode(_ url: URL, rank: Npy.Rank = .twoDimensional) throws -> FeatureBatch {
        let data = try Data(contentsOf: url)
        return try data.withUnsafeBytes { (bytes) throws(NpyError) in try Npy.decode(bytes, rank: rank) }
    }

    private func decodeError(_ url: URL) throws -> NpyError? {
        do { _ = try decode(url); return nil } catch let error as NpyError { return error }
    }

    private static let values: [Float] = [0.5, -1.25, 3e-8, 1e6, 2.0, -0.0]

    @Test func float32AndFloat64() throws {
        try withDirectory { dir in
            _ = try python(
                """
                a = np.array([[0.5, -1.25, 3e-8], [1e6, 2.0, -0.0]])
                np.save('f4.npy', a.astype('<f4')); np.save('f8.npy', a.astype('<f8'))
                """, in: dir)
            for name in ["f4.npy", "f8.npy"] {
                let batch = try decode(dir.appendingPathComponent(name))
                #expect(batch.rows == 2 && batch.features == 3)
                #expect(batch.values == Self.values, "\(name)")
            }
        }
    }

    @Test func oneDimensionalIsOneRowWhenAllowed() throws {
        try withDirectory { dir in
            _ = try python("np.save('v.npy', np.arange(4, dtype='<f4'))", in: dir)
            #expect(try decode(dir.appendingPathComponent("v.npy"), rank: .oneOrTwoDimensional).values == [0, 1, 2, 3])
            #expect(try decodeError(dir.appendingPathComponent("v.npy")) == .unsupportedRank(shape: [4]))
        }
    }

    @Test func refusedLayouts() throws {
        try withDirectory { dir in
            _ = try python(
                """
                np.save('3d.npy', np.zeros((2, 3, 4), '<f4'))
                np.save('fortran.npy', np.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3)))
                np.save('big.npy', np.zeros((2, 3), '>f4'))
                np.save('full.npy', np.zeros((4, 3), '<f4'))
                data = open('full.npy', 'rb').read(); open('truncated.npy', 'wb').write(data[:-5])
                """, in: dir)
            #expect(try decodeError(dir.appendingPathComponent("3d.npy")) == .unsupportedRank(shape: [2, 3, 4]))
            #expect(try decodeError(dir.appendingPathComponent("fortran.npy")) == .fortranOrder)
            #expect(try decodeError(dir.appendingPathComponent("big.npy")) == .unsupportedElementType(">f4 (big-endian; save with '<f4' or '<f8')"))
            #expect(try decodeError(dir.appendingPathComponent("truncated.npy")) == .truncated(expectedBytes: 128 + 48, actualBytes: 128 + 43))
        }
    }

    @Test func encodedFilesLoadInNumPyWithIdenticalValues() throws {
        try withDirectory { dir in
            let batch = FeatureBatch(rows: 2, features: 3, values: Self.values)
            try Data(Npy.encode(batch)).write(to: dir.appendingPathComponent("ours.npy"))
            let printed = try python(
                """
                a = np.load('ours.npy')
                assert a.dtype == np.dtype('<f4') and a.shape == (2, 3) and a.flags['C_CONTIGUOUS'], (a.dtype, a.shape)
                print(' '.join(v.hex() for v in a.astype(np.float64).ravel()))
                """, in: dir)
            let expected = Self.values.map { Double($0) }.map { $0.bitPattern }
            let got = printed.split(whereSeparator: \.isWhitespace).compactMap { Double(String($0)) }.map(\.bitPattern)
            #expect(got == expected, "NumPy read \(printed)")
        }
    }
}
