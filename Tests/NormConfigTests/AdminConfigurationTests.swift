import BuiltinStages
import NormConfig
import StageKit
import Testing

/// `admin:`: defaults, the listen address forms, and every rejection worded and located exactly.
@Suite struct AdminConfigurationTests {
    private static let pipelines = "pipelines:\n  - {name: p, features: 2, stages: [{type: min_max}]}\n"

    private func validate(_ admin: String) -> ConfigurationValidation {
        NormdConfiguration.validate(yaml: admin + "\n" + Self.pipelines, file: "conf/test.yaml", registry: BuiltinStages.registry())
    }

    @Test func defaultsAndAddressForms() throws {
        #expect(
            try #require(validate("admin: {listen: \"127.0.0.1:9464\"}").configuration).admin
                == AdminConfiguration(host: "127.0.0.1", port: 9464, control: true))
        #expect(
            try #require(validate("admin: {listen: \"localhost:0\", control: false}").configuration).admin
                == AdminConfiguration(host: "localhost", port: 0, control: false))
        let ipv6Configuration = try #require(validate("admin: {listen: \"[::1]:65535\"}").configuration)
        let ipv6 = try #require(ipv6Configuration.admin)
        #expect(ipv6 == AdminConfiguration(host: "::1", port: 65535, control: true))
        #expect(ipv6.listen == "[::1]:65535" && ipv6.isLoopback)
        #expect(validate("admin: {listen: \"127.0.0.1:9464\"}").issues.isEmpty)
    }

    @Test func withoutTheSectionThereIsNoServer() throws {
        #expect(try #require(validate("").configuration).admin == nil)
    }

    @Test func aNonLoopbackListenWithControlAndNoTokenIsRefusedWithoutControlAccepted() throws {
        let open = validate("admin: {listen: \"0.0.0.0:9464\"}")
        #expect(open.configuration == nil)
        #expect(
            open.issues.map(\.description) == [
                "conf/test.yaml:1:17: admin.listen: '0.0.0.0:9464' is not a loopback address and control is true without a token_file: anyone who can reach it could switch modes, reload and write checkpoints; set token_file, control: false, or listen on 127.0.0.1"
            ])
        #expect(validate("admin: {listen: \"0.0.0.0:9464\", control: false}").issues.isEmpty)
    }

    @Test func everyProblemIsReportedLocated() {
        #expect(
            validate("admin:\n  control: yes please\n  lisen: x").issues.map(\.description) == [
                "conf/test.yaml:2:3: admin: missing 'listen' (HOST:PORT, e.g. \"127.0.0.1:9464\"; port 0 picks a free one)",
                "conf/test.yaml:2:12: admin.control: expected true or false, got a string \"yes please\"",
                "conf/test.yaml:3:3: admin.lisen: unknown key 'lisen'; did you mean 'listen'?",
            ])
        #expect(
            validate("admin: {listen: \"127.0.0.1:65536\"}").issues.map(\.description) == [
                "conf/test.yaml:1:17: admin.listen: port must be a number from 0 to 65535 (0 picks a free one), got \"65536\""
            ])
        #expect(
            validate("admin: {listen: \"127.0.0.1\"}").issues.map(\.description) == [
                "conf/test.yaml:1:17: admin.listen: expected HOST:PORT such as \"127.0.0.1:9464\" or \"[::1]:9464\", got \"127.0.0.1\""
            ])
        #expect(
            validate("admin: {listen: \"http://x:1\"}").issues.map(\.description) == [
                "conf/test.yaml:1:17: admin.listen: expected HOST:PORT such as \"127.0.0.1:9464\" or \"[::1]:9464\", got \"http://x:1\""
            ])
        #expect(
            validate("admin: {listen: 9464}").issues.map(\.description) == [
                "conf/test.yaml:1:17: admin.listen: expected a string, got an integer 9464"
            ])
        #expect(
            validate("admin: 9464").issues.map(\.description) == [
                "conf/test.yaml:1:8: admin: expected a mapping, got an integer 9464"
            ])
    }

    @Test func aListenLongerThanTheLimitIsRefusedWithoutEchoingIt() {
        let host = String(repeating: "a", count: 300)
        #expect(
            validate("admin: {listen: \"\(host):1\"}").issues.map(\.description) == [
                "conf/test.yaml:1:17: admin.listen: must be at most 261 bytes long (Docs/LIMITS.md), got a string of 302 bytes"
            ])
    }
}
