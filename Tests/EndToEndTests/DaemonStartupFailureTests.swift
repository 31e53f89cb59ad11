import Foundation
import NormTesting
import Testing

/// `normd run` refusing to start: the exit status from sysexits(3) and the line a user sees.
@Suite struct DaemonStartupFailureTests {
    @Test func anEndpointAlreadyInUseIsUnavailable() throws {
        let scratch = try ScratchDirectory()
        let first = try DaemonProcess.started(config: PipelineYAML.config(PipelineYAML(name: "first")), scratch: scratch, name: "first")
        let taken = try first.inputEndpoint(of: "first")
        var second = PipelineYAML(name: "second")
        second.inputs = ["{endpoint: \"\(taken)\", socket: pull, bind: true}"]

        let daemon = try DaemonProcess(config: PipelineYAML.config(second), scratch: scratch, name: "second")
        #expect(try daemon.waitForExit() == 69)
        let critical = daemon.logLines.filter { $0.level == "critical" }
        #expect(critical.map { $0.message ?? "" } == ["cannot start: pipeline second: bind \(taken): Address already in use (errno 98)"])
        #expect(!daemon.logLines.contains { $0.message == "normd running" })
        #expect(first.isRunning)
        #expect(try first.terminate() == 0)
    }

    @Test func inputsWithoutAnOutputIsAConfigurationError() throws {
        let scratch = try ScratchDirectory()
        var pipeline = PipelineYAML()
        pipeline.output = nil
        let daemon = try DaemonProcess(config: PipelineYAML.config(pipeline), scratch: scratch)
        #expect(try daemon.waitForExit() == 78)
        #expect(
            daemon.stderr == "\(daemon.configPath):2:5: pipelines[0]: has 'inputs' but no 'output'; the daemon needs somewhere to send the batches\n")
    }

    @Test func aPipelineWithoutEndpointsCannotRun() throws {
        let scratch = try ScratchDirectory()
        var pipeline = PipelineYAML(name: "offline")
        pipeline.inputs = []
        pipeline.output = nil
        let daemon = try DaemonProcess(config: PipelineYAML.config(pipeline), scratch: scratch)
        #expect(try daemon.waitForExit() == 78)
        #expect(
            daemon.stderr
                == "\(daemon.configPath):2:5: pipeline 'offline': has no 'inputs' and 'output'; `normd run` needs both for every pipeline (see Config/reference.yaml)\n"
        )
    }
}
