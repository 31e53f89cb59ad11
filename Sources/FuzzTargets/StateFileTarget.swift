import BuiltinStages
import Checkpoint
import Foundation
import NormConfig
import NormCore
import StageKit

/// Reads the bytes as a state file, then uses what it accepted as `normd run`, `apply --state` and
/// `state export` do: restore each pipeline record into a fresh chain of ``statePipelineYAML``, run
/// one train and one infer batch, save the statistics again, export them as npz and JSON.
///
/// The input is the file itself (seeds are state files written by `normd apply --state`). A
/// mutation almost always breaks the CRC, so a second path stands for an attacker who writes
/// valid checksums: when the bytes hold a JSON object whose `body` decodes as a state document,
/// that document is re-encoded by `StateFile.encode` (a valid checksum) and read back, which must
/// give the same document.
@discardableResult
public func fuzzStateFile(_ data: UnsafeRawBufferPointer) -> Bool {
    let bytes = Array(data)
    var accepted = false
    do throws(StateFileError) {
        use(try StateFile.decode(bytes, path: "fuzz-state.json"))
        accepted = true
    } catch {
        guard !error.description.isEmpty else { violated(.state, "a refusal without a message") }
    }
    guard let body = try? JSONDecoder().decode(BodyOnly.self, from: Data(bytes)).body else { return accepted }
    let rewritten: [UInt8]
    do throws(StateFileError) {
        rewritten = try StateFile.encode(body)
    } catch {
        return accepted // e.g. a document the encoder cannot write; `unencodable` is a refusal, not a crash
    }
    do throws(StateFileError) {
        let reread = try StateFile.decode(rewritten, path: "fuzz-state.json")
        guard reread == body else { violated(.state, "StateFile.encode → decode changed the document") }
        use(reread)
    } catch {
        violated(.state, "StateFile.decode refuses what StateFile.encode wrote: \(error)")
    }
    return accepted
}

/// The pipeline state files are restored into: every built-in stage kind, one on a column subset.
public let statePipelineYAML = """
    # The pipeline the `state` fuzz target restores state files into. Sources/FuzzTargets/StateFileTarget.swift
    # holds this text (a test checks they are equal); Scripts/fuzz-seeds.py writes the seed state
    # files of Tests/FuzzCorpus/state with `normd apply --state` on this file.
    pipelines:
      - name: fuzz
        features: 4
        batch: {size: 8}
        stages:
          - type: min_max
            columns: ["0:2"]
          - type: batch_norm
          - type: batch_norm
            convention: torch
          - type: batch_renorm
            renorm_clipping: {rmax: 3, rmin: 0.3333, dmax: 5}

    """

/// Restores, trains, infers, saves and exports every record of `document`. Refusals are fine.
private func use(_ document: StateDocument) {
    _ = try? StateExport.npz(document)
    _ = try? StateExport.json(document)
    for record in document.pipelines {
        let chain: StageChain
        do {
            chain = try statePipeline.makeChain()
        } catch {
            violated(.state, "the fixed pipeline does not build: \(error)")
        }
        do throws(StateRestoreError) {
            try record.restore(into: chain)
        } catch {
            continue
        }
        for mode in [Mode.train, .infer] {
            var batch = FeatureBatch(rows: 8, features: 4, values: (0..<32).map { Float($0 % 7) - 2.5 })
            _ = try? chain.process(&batch, mode: mode)
        }
        _ = try? StateFile.encode(StateDocument(pipelines: [PipelineStateRecord(name: record.name, chain: chain)]))
    }
}

private struct BodyOnly: Decodable {
    var body: StateDocument
}

private let registry = BuiltinStages.registry()

private let statePipeline: PipelineConfiguration = {
    let result = NormdConfiguration.validate(yaml: statePipelineYAML, file: "state.yaml", registry: registry)
    guard let pipeline = result.configuration?.pipelines.first else {
        fatalError("the state target's pipeline is invalid: \(result.issues)")
    }
    return pipeline
}()
