import Foundation
import NormCore
import NormTesting
import StageKit
import Testing

/// Stands in for the group's leader inside one process: each member's chain runs on its own thread
/// and blocks in `exchange` until every rank has contributed to that stage, then gets the rank-order
/// merge. (The network protocol is tested end to end with real daemons; this is the core's math.)
private final class Rendezvous: @unchecked Sendable {
    private let condition = NSCondition()
    private let size: Int
    private var contributions: [Int: [Int: MomentContribution]] = [:]

    init(size: Int) { self.size = size }

    func exchange(rank: Int, stage: Int, _ contribution: MomentContribution) -> MomentContribution {
        condition.lock()
        defer { condition.unlock() }
        contributions[stage, default: [:]][rank] = contribution
        condition.broadcast()
        while contributions[stage]!.count < size { condition.wait() }
        return MomentContribution.merge((0..<size).map { contributions[stage]![$0]! })!
    }
}

/// One member's side of a step: its chain and its shard, and what the step produced.
private final class MemberStep: @unchecked Sendable {
    let chain: StageChain
    var batch: FeatureBatch
    var outcome: ChainOutcome?
    var error: SyncStepError?

    init(chain: StageChain, batch: FeatureBatch) {
        self.chain = chain
        self.batch = batch
    }
}

/// Runs one global step over `shards` (rank order), one thread per member.
private func step(_ chains: [StageChain], shards: [FeatureBatch]) -> [MemberStep] {
    let rendezvous = Rendezvous(size: chains.count)
    let members = zip(chains, shards).map { MemberStep(chain: $0, batch: $1) }
    let done = DispatchGroup()
    for (rank, member) in members.enumerated() {
        done.enter()
        let thread = Thread {
            do throws(SyncStepError) {
                member.outcome = try member.chain.processSynchronized(&member.batch) { stage, contribution in
                    rendezvous.exchange(rank: rank, stage: stage, contribution)
                }
            } catch {
                member.error = error
            }
            done.leave()
        }
        thread.start()
    }
    #expect(done.wait(timeout: .now() + 60) == .success, "a member never finished the step")
    return members
}

private func shard(rows: Int, features: Int, seed: UInt64, shift: Double) -> FeatureBatch {
    var rng = SplitMix(seed)
    let values = (0..<(rows * features)).map { index in
        Float(shift + Double(index % features) * 3 + rng.normal() * (1 + Double(index % features)))
    }
    return FeatureBatch(rows: rows, features: features, values: values)
}

private func concatenated(_ parts: [FeatureBatch]) -> FeatureBatch {
    FeatureBatch(rows: parts.reduce(0) { $0 + $1.rows }, features: parts[0].features, values: parts.flatMap(\.values))
}

private struct SplitMix {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func normal() -> Double { (-2 * log(max(uniform(), 1e-300))).squareRoot() * cos(2 * .pi * uniform()) }
}

/// Largest difference `|a − b| / max(|a|, |b|, floor)` over two states' statistics (relative for
/// values above `floor`); the counters must be equal.
private func relativeDifference(_ a: [StageState], _ b: [StageState], floor: Double = 1e-300) -> Double {
    #expect(a.count == b.count)
    var worst = 0.0
    for (x, y) in zip(a, b) {
        #expect(x.counters == y.counters)
        #expect(Set(x.statistics.keys) == Set(y.statistics.keys))
        for (name, values) in x.statistics {
            let other = y.statistics[name] ?? []
            #expect(values.count == other.count, "\(name)")
            for (u, v) in zip(values, other) where u != v {
                worst = max(worst, abs(u - v) / max(abs(u), abs(v), floor))
            }
        }
    }
    return worst
}

private func largestDifference(_ a: FeatureBatch, _ b: FeatureBatch) -> Float {
    #expect(a.rows == b.rows && a.features == b.features)
    return zip(a.values, b.values).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

@Suite struct SyncMomentTests {
    static let features = 4

    @Test func mergeOfShardsIsTheMomentsOfTheConcatenationInRankOrder() {
        let parts = [
            shard(rows: 32, features: 4, seed: 1, shift: 1e4), shard(rows: 0, features: 4, seed: 2, shift: 0),
            shard(rows: 64, features: 4, seed: 3, shift: 1e4 + 5), shard(rows: 128, features: 4, seed: 4, shift: 1e4 - 7),
        ]
        let merged = MomentContribution.merge(parts.map { MomentContribution(of: $0, extremes: true) })!
        let whole = MomentContribution(of: concatenated(parts), extremes: true)
        #expect(merged.count == 224)
        #expect(merged.minimum == whole.minimum)
        #expect(merged.maximum == whole.maximum)
        for f in 0..<4 {
            #expect(abs(merged.mean[f] - whole.mean[f]) / abs(whole.mean[f]) < 1e-12)
            #expect(abs(merged.m2[f] - whole.m2[f]) / whole.m2[f] < 1e-9)
        }
    }

    @Test func anEmptyContributionChangesNothing() {
        let one = MomentContribution(of: shard(rows: 5, features: 3, seed: 9, shift: 2), extremes: true)
        let empty = MomentContribution.empty(features: 3, extremes: true)
        #expect(one.merged(with: empty) == one)
        #expect(empty.merged(with: one) == one)
        #expect(MomentContribution(of: FeatureBatch(rows: 0, features: 3), extremes: true) == empty)
        #expect(empty.merged(with: empty).count == 0)
    }

    @Test func networkContributionsAreChecked() {
        let good = MomentContribution(of: shard(rows: 5, features: 3, seed: 9, shift: 2), extremes: false)
        #expect(good.isValid(features: 3, extremes: false))
        #expect(!good.isValid(features: 4, extremes: false))
        #expect(!good.isValid(features: 3, extremes: true))
        var negative = good
        negative.m2[1] = -1
        #expect(!negative.isValid(features: 3, extremes: false))
        var nan = good
        nan.mean[0] = .nan
        #expect(!nan.isValid(features: 3, extremes: false))
        var negativeCount = good
        negativeCount.count = -2
        #expect(!negativeCount.isValid(features: 3, extremes: false))
    }

    /// Found by the `sync` fuzz target (Tests/FuzzCorpus/sync/crashers/m2-near-double-max-overflows-the-merge):
    /// a contribution with a finite M2 near `Double.greatestFiniteMagnitude` was accepted, and two
    /// members sending it merged into `M2 = +∞` — which the leader trains from without checking its
    /// own result. Moments no finite Float32 rows can have are now refused before any merge.
    @Test func momentsNoFloat32RowsCanHaveAreRefused() {
        let good = MomentContribution(of: shard(rows: 5, features: 3, seed: 9, shift: 2), extremes: true)
        var huge = good
        huge.m2[0] = .greatestFiniteMagnitude
        #expect(!huge.isValid(features: 3, extremes: true))
        #expect(huge.merged(with: huge).m2[0] == .infinity, "what the check now keeps out")
        var far = good
        far.mean[1] = 1e300
        #expect(!far.isValid(features: 3, extremes: true))
        var wide = good
        wide.maximum[2] = 1e39
        #expect(!wide.isValid(features: 3, extremes: true))
        var spreadOfNothing = MomentContribution.empty(features: 3, extremes: false)
        spreadOfNothing.m2[2] = 1
        #expect(!spreadOfNothing.isValid(features: 3, extremes: false))
    }

    /// The widest moments finite Float32 rows allow (|μ| ≤ F, M2 ≤ n·F² with F the largest Float,
    /// Popoviciu's bound on the variance of values in [−F, F]) are valid, and merging them stays finite.
    @Test func theWidestValidContributionsMergeIntoFiniteMoments() {
        let top = Double(Float.greatestFiniteMagnitude)
        let widest = MomentContribution(count: .max, mean: [top, -top], m2: [Double(Int64.max) * top * top, 0])
        #expect(widest.isValid(features: 2, extremes: false))
        var other = widest
        other.mean = [-top, top]
        let merged = MomentContribution.merge([widest, other, widest])!
        #expect(merged.count == .max)
        #expect(merged.mean.allSatisfy(\.isFinite) && merged.m2.allSatisfy { $0.isFinite && $0 >= 0 }, "\(merged)")
    }

    /// Every built-in kind and both batch-norm conventions, each followed by a torch batch norm so
    /// stage 1's input depends on stage 0's merged normalization; one with a column selection.
    static let chains: [(name: String, stages: [[(String, ConfigNode)]])] = {
        let torch: [(String, ConfigNode)] = [("type", .text("batch_norm")), ("convention", .text("torch"))]
        return [
            ("min_max", [[("type", .text("min_max")), ("feature_range", .numbers([-1, 1]))], torch]),
            ("standard_scale", [[("type", .text("standard_scale"))], torch]),
            ("keras", [[("type", .text("batch_norm")), ("momentum", .number(0.9))], torch]),
            ("torch", [torch, [("type", .text("standard_scale"))]]),
            ("torch cumulative", [[("type", .text("batch_norm")), ("convention", .text("torch")), ("momentum", ConfigNode(.null))], torch]),
            (
                "renorm",
                [
                    [
                        ("type", .text("batch_renorm")), ("momentum", .number(0.9)), ("renorm_momentum", .number(0.8)),
                        ("renorm_clipping", JSONConfig.map([("rmax", .number(1.5)), ("rmin", .number(0.7)), ("dmax", .number(0.5))])),
                    ], torch,
                ]
            ),
            ("columns", [[("type", .text("standard_scale")), ("columns", .text("1:3"))], torch]),
        ]
    }()

    static func chain(_ index: Int) -> StageChain {
        let built = ChainFactory.build(stages: chains[index].stages.map(JSONConfig.map), featureCount: features)
        #expect(built.diagnostics.issues.isEmpty, "\(built.diagnostics.issues)")
        return built.chain!
    }

    /// Three members fed shards of unequal sizes (and an empty one) end every step with
    /// bit-identical statistics, the same as one chain fed the concatenation: stage 0's to 1e-9
    /// relative against the same exact moments (and against the unsynchronized `process(.train)`,
    /// whose batch-norm moments are blocked Float32 sums, to 1e-6). Later stages learn from stage 0's
    /// Float32 output, where one rounding flip between the merged and the whole-batch coefficients
    /// moves a Float64 statistic by ~1e-8, and their statistics of normalized data sit near 0: they
    /// are compared to 1e-6 of max(1, |value|). Each member's rows are the reference's to 1e-5.
    @Test("a group trained from merged moments equals one chain fed the concatenation", arguments: 0..<7)
    func groupEqualsConcatenation(index: Int) throws {
        let members = (0..<3).map { _ in Self.chain(index) }
        let reference = Self.chain(index), plain = Self.chain(index)
        let sizes = [[32, 64, 128], [10, 0, 7], [0, 0, 40], [5, 5, 5]]
        for (stepIndex, rows) in sizes.enumerated() {
            let shards = rows.enumerated().map { rank, count in
                shard(rows: count, features: Self.features, seed: UInt64(100 * stepIndex + rank), shift: 50 * Double(rank) + 1e3)
            }
            let results = step(members, shards: shards)
            for member in results {
                #expect(member.error == nil)
                #expect(member.outcome == ChainOutcome(mode: .train))
            }
            var whole = concatenated(shards)
            let output = try #require(try? reference.processSynchronized(&whole) { _, contribution in contribution })
            #expect(output == ChainOutcome(mode: .train))
            var plainBatch = concatenated(shards)
            try plain.process(&plainBatch, mode: .train)
            // Every member holds bit-for-bit the same statistics.
            #expect(results[0].chain.saveState() == results[1].chain.saveState())
            #expect(results[0].chain.saveState() == results[2].chain.saveState())
            let group = results[0].chain.saveState()
            #expect(relativeDifference([group[0]], [reference.saveState()[0]]) < 1e-9)
            let plainTolerance = ["min_max", "standard_scale", "columns"].contains(Self.chains[index].name) ? 1e-9 : 1e-6
            #expect(relativeDifference([group[0]], [plain.saveState()[0]]) < plainTolerance)
            #expect(relativeDifference(Array(group.dropFirst()), Array(reference.saveState().dropFirst()), floor: 1) < 1e-6)
            #expect(relativeDifference(Array(group.dropFirst()), Array(plain.saveState().dropFirst()), floor: 1) < 1e-6)
            #expect(largestDifference(concatenated(results.map(\.batch)), whole) < 1e-5)
            #expect(largestDifference(concatenated(results.map(\.batch)), plainBatch) < 1e-4)
        }
    }

    /// `batch.min_rows` applies to the step's merged count: 1 + 0 + 0 rows is below 2, so every member
    /// runs infer and nothing is learned, while 1 + 1 + 0 trains.
    @Test func minRowsAppliesToTheMergedCount() {
        let members = (0..<3).map { _ in Self.chain(2) }
        let before = members[0].saveState()
        let tiny = step(
            members, shards: [shard(rows: 1, features: 4, seed: 1, shift: 3), FeatureBatch(rows: 0, features: 4), FeatureBatch(rows: 0, features: 4)])
        for member in tiny {
            #expect(member.outcome == ChainOutcome(mode: .infer, downgrade: .tooFewRows(rows: 1, minimum: 2)))
            #expect(member.chain.saveState() == before)
        }
        let enough = step(
            members,
            shards: [
                shard(rows: 1, features: 4, seed: 1, shift: 3), shard(rows: 1, features: 4, seed: 2, shift: 3), FeatureBatch(rows: 0, features: 4),
            ])
        for member in enough { #expect(member.outcome == ChainOutcome(mode: .train)) }
        #expect(members[0].saveState() != before)
        #expect(members[0].saveState() == members[2].saveState())
    }

    /// A step the group cannot deliver puts every statistic back, including stages already trained.
    @Test func anUnavailableStepLearnsNothing() {
        let chain = Self.chain(0)
        let before = chain.saveState()
        var batch = shard(rows: 8, features: 4, seed: 5, shift: 1)
        #expect(throws: SyncStepError.unavailable("leader gone")) {
            try chain.processSynchronized(&batch) { (stage: Int, contribution: MomentContribution) throws(SyncStepError) -> MomentContribution in
                if stage == 1 { throw .unavailable("leader gone") }
                return contribution
            }
        }
        #expect(chain.saveState() == before)
    }
}
