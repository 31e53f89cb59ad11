import BuiltinStages
import Foundation
import NormConfig
import StageKit
import Testing

/// Every shipped example configuration must stay valid.
@Suite struct ConfigFilesTests {
    static let configDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Config")

    /// secure_tcp.yaml names key files that must be generated first (a secret key cannot be
    /// shipped: git does not keep its 0600 mode): CurveSecurityTests validates it after `normd keygen`.
    static let files: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: configDirectory.path)) ?? [])
        .filter { ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) && $0 != "secure_tcp.yaml" }.sorted()

    @Test func configDirectoryHasTheShippedFiles() {
        #expect(
            Self.files.contains("normd.yaml") && Self.files.contains("reference.yaml") && Self.files.contains("torch_style.yaml"),
            "found \(Self.files) in \(Self.configDirectory.path)")
    }

    @Test(arguments: files)
    func loadsWithoutErrors(file: String) throws {
        let result = NormdConfiguration.validate(file: Self.configDirectory.appendingPathComponent(file).path, registry: BuiltinStages.registry())
        #expect(result.errors.map(\.description) == [])
        let configuration = try #require(result.configuration)
        for pipeline in configuration.pipelines {
            _ = try pipeline.makeChain()
        }
    }

    @Test func theDefaultConfigurationHasTheDocumentedShape() throws {
        let configuration = try NormdConfiguration.load(
            file: Self.configDirectory.appendingPathComponent("normd.yaml").path,
            registry: BuiltinStages.registry())
        let sensors = try #require(configuration.pipeline(named: "sensors"))
        #expect(sensors.features == 8)
        #expect(sensors.batch == BatchConfiguration(size: 64, minRows: 2, maxLatency: .milliseconds(50)))
        #expect(try sensors.makeChain().stages.map(\.kind) == ["min_max", "batch_norm"])
    }
}
