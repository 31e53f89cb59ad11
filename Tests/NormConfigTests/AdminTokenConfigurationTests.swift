import BuiltinStages
import Foundation
import NormConfig
import StageKit
import Testing

/// `admin.token_file` (issue 11 §3): read at validation like the CURVE secret key — owner-only,
/// bounded, one token — and each problem one located message naming the file.
@Suite struct AdminTokenConfigurationTests {
    final class TokenDirectory {
        let directory: String
        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("normd-token-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(atPath: directory) }

        func write(_ text: String, mode: mode_t = 0o600) -> String {
            let path = directory + "/admin.token"
            #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)))
            #expect(chmod(path, mode) == 0)
            return path
        }
    }

    private func validate(_ admin: String) -> ConfigurationValidation {
        NormdConfiguration.validate(
            yaml: admin + "\npipelines:\n  - {name: p, features: 2, stages: [{type: min_max}]}\n",
            file: "conf/test.yaml", registry: BuiltinStages.registry())
    }

    @Test func theTokenIsReadWithoutItsNewlineAndGuardsANonLoopbackListen() throws {
        let files = try TokenDirectory()
        let path = files.write("0123456789abcdef-._~+/=\n")
        let result = validate("admin: {listen: \"0.0.0.0:9464\", token_file: \(path)}")
        #expect(result.issues.isEmpty)
        let admin = try #require(result.configuration?.admin)
        #expect(admin.tokenFile == path && admin.token == "0123456789abcdef-._~+/=")
        // Equal whatever the token: a reload re-reads it, a rotation is not a change of the section.
        #expect(admin == AdminConfiguration(host: "0.0.0.0", port: 9464, control: true, tokenFile: path, token: "other"))
        #expect(admin != AdminConfiguration(host: "0.0.0.0", port: 9464, control: true))
    }

    @Test func everyTokenFileProblemIsLocatedAndNamesTheFile() throws {
        let files = try TokenDirectory()
        let admin = { (path: String) in "admin: {listen: \"127.0.0.1:0\", token_file: \(path)}" }
        var path = files.write("0123456789abcdef\n", mode: 0o640)
        #expect(
            validate(admin(path)).issues.map(\.description) == [
                "conf/test.yaml:1:44: admin.token_file: token file \(path) is accessible by group or others (mode 640); run chmod 600 \(path)"
            ])
        path = files.write("short\n")
        #expect(
            validate(admin(path)).issues.map(\.description) == [
                "conf/test.yaml:1:44: admin.token_file: \(path) must hold one token of 16 to 1024 characters A-Z a-z 0-9 - . _ ~ + / = (e.g. openssl rand -hex 32), got 5 characters"
            ])
        path = files.write("0123456789abcdef 0123456789abcdef")
        #expect(
            validate(admin(path)).issues.map(\.description) == [
                "conf/test.yaml:1:44: admin.token_file: \(path) must hold one token of 16 to 1024 characters A-Z a-z 0-9 - . _ ~ + / = (e.g. openssl rand -hex 32), got 33 characters"
            ])
        path = files.write(String(repeating: "a", count: 5000))
        #expect(
            validate(admin(path)).issues.map(\.description) == [
                "conf/test.yaml:1:44: admin.token_file: \(path) is larger than 4096 bytes: not a token file"
            ])
        let missing = files.directory + "/none.token"
        #expect(
            validate(admin(missing)).issues.map(\.description) == [
                "conf/test.yaml:1:44: admin.token_file: cannot read \(missing): No such file or directory"
            ])
        #expect(
            validate("admin: {listen: \"127.0.0.1:0\", token_file: \"\"}").issues.map(\.description) == [
                "conf/test.yaml:1:44: admin.token_file: must be a non-empty path, got \"\""
            ])
    }
}
