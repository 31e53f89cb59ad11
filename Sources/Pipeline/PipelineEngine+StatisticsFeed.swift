import Logging
public import StageKit

/// `statistics_from` (issue 9 §5) on the engine: a training pipeline publishes its statistics after
/// every train batch that changed them; an evaluation pipeline takes the newest before each batch.
extension PipelineEngine {
    /// Makes this (training) pipeline publish into `feed`; publishes the current statistics at once.
    public func publishStatistics(to feed: StatisticsFeed) {
        statisticsFeed = feed
        feed.publish(from: chain)
    }

    /// Makes this (evaluation) pipeline normalize with `feed`'s statistics, restored before each batch.
    public func followStatistics(of feed: StatisticsFeed) {
        follower = StatisticsFollower(feed: feed)
    }

    /// Before a batch: takes the source's newest statistics if they moved. A snapshot the chain
    /// refuses (not expected: validation compared kinds, columns and fingerprints) leaves the chain's
    /// statistics and `stats_version` as they were — the header stays truthful — and is logged once.
    func followStatistics() {
        guard var follower else { return }
        let failedBefore = follower.failed
        do {
            try follower.refresh(chain)
        } catch {
            if failedBefore != follower.failed {
                logger.error(
                    "cannot take the statistics of '\(follower.feed.source)'; this batch uses the previous ones",
                    metadata: ["stats_version": "\(follower.feed.current.statsVersion)", "error": "\(error)"])
            }
        }
        self.follower = follower
    }
}
