import NormConfig
import StageKit
import ZeroMQ

/// Binds, then releases, the endpoints a reload is about to bind anew — every `bind: true` input
/// and output of a re-bound or added pipeline, and its sync member's ROUTER (`sync.members[rank]`),
/// that the running daemon does not hold already —
/// before anything changes, so an address another process holds refuses the whole reload instead
/// of leaving the pipelines re-bound before it swapped and the rest not (issue 9 §4, all or nothing).
///
/// What it cannot rule out: the address taken in the moments between the probe and the real bind
/// (the reload then reports exactly which pipelines it applied), and `tcp://…:*` (any free port:
/// always bindable; not probed). `inproc://` is per ZeroMQ context and not probed. Probing an
/// `ipc://` path does what the real bind does — libzmq replaces a socket file left at that path —
/// and removes the file again when the probe closes.
enum BindProbe {
    /// Located problems, empty when every new endpoint could be bound. `pipelines` are the re-bound and
    /// added pipelines with their index in the new file.
    static func check(_ pipelines: [(index: Int, configuration: PipelineConfiguration)], running: NormdConfiguration) -> [ConfigIssue] {
        let held = Set(running.pipelines.flatMap(boundEndpoints))
        guard let context = try? ZMQContext() else { return [] } // the real bind reports it
        defer { context.terminate() }
        var issues: [ConfigIssue] = []
        for (index, configuration) in pipelines {
            let path = ConfigPath.root.appending("pipelines").appending(index: index)
            var wanted = configuration.inputs.enumerated().filter(\.element.bind).map {
                (path.appending("inputs").appending(index: $0.offset).appending("endpoint"), $0.element.endpoint)
            }
            if let output = configuration.output, output.bind { wanted.append((path.appending("output").appending("endpoint"), output.endpoint)) }
            if let sync = configuration.sync {
                wanted.append((path.appending("sync").appending("members").appending(index: sync.rank), sync.members[sync.rank]))
            }
            for (where_, endpoint) in wanted where !held.contains(endpoint) && probed(endpoint) {
                if let problem = bindProblem(endpoint, in: context) {
                    issues.append(ConfigIssue(at: configuration.location, path: where_, "cannot bind \(endpoint): \(problem)"))
                }
            }
        }
        return issues
    }

    private static func boundEndpoints(_ configuration: PipelineConfiguration) -> [String] {
        configuration.inputs.filter(\.bind).map(\.endpoint) + [configuration.output].compactMap { $0?.bind == true ? $0?.endpoint : nil }
            + [configuration.sync.map { $0.members[$0.rank] }].compactMap { $0 }
    }

    private static func probed(_ endpoint: String) -> Bool {
        !endpoint.hasSuffix(":*") && !endpoint.hasPrefix("inproc://")
    }

    /// Why `endpoint` cannot be bound now (`Address already in use`), or `nil` (bound and released).
    private static func bindProblem(_ endpoint: String, in context: ZMQContext) -> String? {
        do {
            let socket = try ZMQSocket(context: context, type: .pull)
            defer { socket.close() }
            try socket.setLinger(milliseconds: 0)
            try socket.bind(endpoint)
            return nil
        } catch let error as ZMQError {
            return "\(error.message) (errno \(error.errno))"
        } catch {
            return "\(error)"
        }
    }
}
