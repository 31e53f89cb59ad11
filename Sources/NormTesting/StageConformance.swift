import Checkpoint
public import NormCore
public import StageKit

/// The properties every stage kind must have, built-in or loaded from a plugin (in the spirit of
/// Vector's `assert_transform_compliance`): run it once per kind and expect no failure.
///
/// Checks:
/// - **state round trip**: statistics saved through a real state file (Checkpoint's encoding and
///   checksum) restore into a fresh stage, which then infers and trains exactly like the original;
/// - **infer is pure**: infer batches never change the state, before or after training;
/// - **determinism**: the same batches from the same state give bit-identical outputs and states;
/// - **width**: a batch of the wrong width throws `StageError.widthMismatch` and changes nothing;
/// - **one-row batches**: through a chain with `min_rows: 2`, a 1-row train batch runs as infer,
///   leaves the state unchanged and equals the stage's infer output.
///
/// Framework-neutral on purpose (no XCTest or Swift Testing import): it returns failures as text.
public enum StageConformance {
    /// One broken property, with enough detail to start debugging.
    public struct Failure: Sendable, Equatable, CustomStringConvertible {
        public var check: String
        public var detail: String
        public var description: String { "\(check): \(detail)" }
    }

    /// - Parameters:
    ///   - makeStage: builds a fresh stage (initial statistics) of `featureCount` features; called
    ///     several times. Its `trainingRowMultiple` decides the train batch size.
    ///   - values: maps a generated value in [0, 1) to the stage's domain (e.g. positive only).
    public static func check(
        featureCount: Int, makeStage: () throws -> any Stage,
        values: @escaping (Float) -> Float = { $0 * 20 - 5 }
    ) -> [Failure] {
        var failures: [Failure] = []
        func fail(_ check: String, _ detail: String) { failures.append(Failure(check: check, detail: detail)) }
        do {
            let probe = try makeStage()
            let multiple = max(1, probe.trainingRowMultiple)
            let trainRows = multiple * max(1, (8 + multiple - 1) / multiple)
            var data = SampleData(features: featureCount, transform: values)
            let training = (0..<3).map { _ in data.batch(rows: trainRows) }
            let probes = [data.batch(rows: 1), data.batch(rows: 5), data.batch(rows: trainRows)]
            let name = probe.kind

            // infer is pure, on a fresh stage and on a trained one
            let trained = try makeStage()
            try expectInferIsPure(trained, probes, when: "fresh", fail)
            for batch in training { var copy = batch; try trained.process(&copy, mode: .train) }
            try expectInferIsPure(trained, probes, when: "trained", fail)

            // determinism
            let twin = try makeStage()
            var firstOutputs: [FeatureBatch] = [], secondOutputs: [FeatureBatch] = []
            let again = try makeStage()
            for batch in training {
                var a = batch, b = batch
                try twin.process(&a, mode: .train)
                try again.process(&b, mode: .train)
                firstOutputs.append(a)
                secondOutputs.append(b)
            }
            if firstOutputs != secondOutputs { fail("determinism", "two fresh \(name) stages gave different outputs for the same train batches") }
            if twin.saveState() != again.saveState() { fail("determinism", "two fresh \(name) stages ended with different states") }
            if twin.saveState() != trained.saveState() { fail("determinism", "interleaved infer batches changed the training result") }

            // state round trip through the state file format
            let restored = try makeStage()
            try roundTrip(from: trained, into: restored, featureCount: featureCount)
            if restored.saveState() != trained.saveState() {
                fail("state round trip", "restored state \(restored.saveState()) differs from saved \(trained.saveState())")
            }
            for batch in probes {
                var a = batch, b = batch
                try trained.process(&a, mode: .infer)
                try restored.process(&b, mode: .infer)
                if a != b { fail("state round trip", "restored stage infers differently on a \(batch.rows)-row batch") }
            }
            var next = data.batch(rows: trainRows)
            var nextCopy = next
            try trained.process(&next, mode: .train)
            try restored.process(&nextCopy, mode: .train)
            if next != nextCopy || trained.saveState() != restored.saveState() {
                fail("state round trip", "restored stage trains differently from the original")
            }

            // wrong width
            for mode in [Mode.train, .infer] {
                let before = trained.saveState()
                var wide = FeatureBatch(rows: trainRows, features: featureCount + 1)
                do throws(StageError) {
                    try trained.process(&wide, mode: mode)
                    fail("wrong width", "a \(featureCount + 1)-feature batch was accepted in \(mode) mode")
                } catch {
                    if error != .widthMismatch(expected: featureCount, got: featureCount + 1) {
                        fail("wrong width", "threw \(error) instead of a width mismatch")
                    }
                }
                if trained.saveState() != before { fail("wrong width", "a refused batch changed the state") }
            }

            // one-row batches through a chain with min_rows 2
            let chain = StageChain(links: [ChainLink(stage: trained, columns: .all(featureCount))], featureCount: featureCount, minTrainingRows: 2)
            let before = trained.saveState()
            var single = probes[0], inferred = probes[0]
            let outcome = try chain.process(&single, mode: .train)
            if outcome != ChainOutcome(mode: .infer, downgrade: .tooFewRows(rows: 1, minimum: 2)) {
                fail("one-row batch", "ran as \(outcome), expected infer (1 rows is below batch.min_rows (2))")
            }
            if trained.saveState() != before { fail("one-row batch", "a 1-row train batch changed the state") }
            try trained.process(&inferred, mode: .infer)
            if single != inferred { fail("one-row batch", "the downgraded batch differs from an infer batch") }
        } catch {
            fail("unexpected error", "\(error)")
        }
        return failures
    }

    private static func expectInferIsPure(
        _ stage: any Stage, _ batches: [FeatureBatch], when: String,
        _ fail: (String, String) -> Void
    ) throws {
        let before = stage.saveState()
        for batch in batches {
            var copy = batch
            try stage.process(&copy, mode: .infer)
        }
        if stage.saveState() != before { fail("infer is pure", "infer batches changed the \(when) stage's state") }
    }

    /// Saves `source` into a state file's bytes and restores `target` from them.
    private static func roundTrip(from source: any Stage, into target: any Stage, featureCount: Int) throws {
        func chain(_ stage: any Stage) -> StageChain {
            StageChain(links: [ChainLink(stage: stage, columns: .all(featureCount))], featureCount: featureCount)
        }
        let bytes = try StateFile.encode(StateDocument(pipelines: [PipelineStateRecord(name: "conformance", chain: chain(source))]))
        let document = try StateFile.decode(bytes, path: "conformance.state")
        guard let record = document.pipeline(named: "conformance") else {
            throw StageError.invalidState(kind: source.kind, "the state file lost the pipeline record")
        }
        try record.restore(into: chain(target))
    }
}
