import NormConfig
import Synchronization

/// The pipelines running now. A reload adds, removes and replaces (re-binds) pipelines while the
/// others run, so whoever acts on "every pipeline" — a stop signal, SIGUSR1, the counts line, a
/// reload — asks this set at that moment instead of keeping the list it started with.
///
/// A stop wins over a reload: once `stopAll()` ran, a pipeline added later is stopped as it joins,
/// so a SIGTERM during a reload never leaves a pipeline running.
final class PipelineSet: Sendable {
    private struct State {
        var loops: [PipelineLoop] = []
        var stopping = false
        var abandoned = false
    }
    private let state = Mutex(State())

    /// In configuration order (a replaced pipeline keeps its place; an added one comes last).
    var current: [PipelineLoop] { state.withLock { $0.loops } }

    func loop(named name: String) -> PipelineLoop? {
        state.withLock { $0.loops.first { $0.configuration.name == name } }
    }

    /// Adds `loop` (in place of the one of the same name, if any); a loop added after a stop is
    /// asked to stop at once.
    func add(_ loop: PipelineLoop) {
        let (stopping, abandoned) = state.withLock { state -> (Bool, Bool) in
            if let index = state.loops.firstIndex(where: { $0.configuration.name == loop.configuration.name }) {
                state.loops[index] = loop
            } else {
                state.loops.append(loop)
            }
            return (state.stopping, state.abandoned)
        }
        if abandoned { loop.abandonOutput() } else if stopping { loop.requestStop() }
    }

    func remove(_ loop: PipelineLoop) {
        state.withLock { $0.loops.removeAll { $0 === loop } }
    }

    /// Stops every pipeline (the first SIGTERM/SIGINT).
    func stopAll() {
        let loops = state.withLock { state -> [PipelineLoop] in
            state.stopping = true
            return state.loops
        }
        loops.forEach { $0.requestStop() }
    }

    /// Stops every pipeline without waiting for the outputs (the second SIGTERM/SIGINT).
    func abandonAll() {
        let loops = state.withLock { state -> [PipelineLoop] in
            state.stopping = true
            state.abandoned = true
            return state.loops
        }
        loops.forEach { $0.abandonOutput() }
    }

    /// Whether a stop signal arrived.
    var isStopping: Bool { state.withLock { $0.stopping } }
}
