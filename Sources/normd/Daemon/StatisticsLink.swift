import NormConfig
import Pipeline
import StageKit

/// A pipeline's part in `statistics_from` (issue 9 §5): a training pipeline that evaluation
/// pipelines follow publishes its statistics into a `StatisticsFeed`; each follower reads it.
enum StatisticsLink: Sendable {
    case publishes(StatisticsFeed)
    case follows(StatisticsFeed)

    /// By pipeline name: one feed per followed pipeline, made from its chain as restored (so a
    /// follower's first batch already uses the checkpoint's statistics). Pipelines nobody follows get
    /// no link (no copy of their statistics is ever made).
    static func links(for pipelines: [PipelineConfiguration], chains: [StageChain]) -> [String: StatisticsLink] {
        var feeds: [String: StatisticsFeed] = [:]
        for (pipeline, chain) in zip(pipelines, chains) where pipelines.contains(where: { $0.statisticsFrom?.pipeline == pipeline.name }) {
            feeds[pipeline.name] = StatisticsFeed(source: pipeline.name, chain: chain)
        }
        var links = feeds.mapValues { StatisticsLink.publishes($0) }
        for pipeline in pipelines {
            if let source = pipeline.statisticsFrom, let feed = feeds[source.pipeline] { links[pipeline.name] = .follows(feed) }
        }
        return links
    }

    /// Wires the engine (on the pipeline's thread, before its first batch).
    func attach(to engine: PipelineEngine) {
        switch self {
        case .publishes(let feed): engine.publishStatistics(to: feed)
        case .follows(let feed): engine.followStatistics(of: feed)
        }
    }
}
