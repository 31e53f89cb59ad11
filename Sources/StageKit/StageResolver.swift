/// Resolves the `stages:` list of a pipeline, whatever syntax it was written in, into `StagePlan`s
/// that build its chain (`StageChain(plans:featureCount:minTrainingRows:)`) without reading it again.
///
/// Reads `type` and `columns` itself (they mean the same for every stage), hands the rest of each
/// stage's mapping to its factory, and reports every problem of every stage before giving up.
public enum StageResolver {
    /// - Parameter pipeline: the pipeline's name, recorded in each plan.
    /// - Returns: one plan per entry, or `nil` when any error was reported to `diagnostics`.
    public static func resolve(
        stages node: ConfigNode, path: ConfigPath, pipeline: String, featureCount: Int, batchSize: Int,
        registry: StageRegistry, diagnostics: ConfigDiagnostics
    ) -> [StagePlan]? {
        guard let items = node.listItems else {
            diagnostics.error(at: node.location, path: path, "expected a list of stages, got \(node.value.typeName)")
            return nil
        }
        guard !items.isEmpty else {
            diagnostics.error(at: node.location, path: path, "a pipeline needs at least one stage")
            return nil
        }
        let mark = diagnostics.mark()
        var plans: [StagePlan] = []
        for (index, item) in items.enumerated() {
            let stagePath = path.appending(index: index)
            let reader = ParameterReader(node: item, path: stagePath, diagnostics: diagnostics)
            guard item.mapEntries != nil else { continue }
            guard let kind = reader.optionalString("type") else {
                if !reader.contains("type") {
                    reader.error(nil, "missing 'type' (one of: \(registry.kinds.joined(separator: ", ")))")
                } else if item.entry("type")?.value.isNull == true {
                    // `type:` with nothing after it: not a type error of optionalString's, so say it here.
                    reader.error("type", "expected a stage type (one of: \(registry.kinds.joined(separator: ", "))), got null")
                }
                continue
            }
            guard let factory = registry.factory(for: kind) else {
                let hint = nearestKey(to: kind, among: registry.kinds).map { "; did you mean '\($0)'?" } ?? ""
                reader.error("type", "unknown stage type '\(ConfigNode.excerpt(kind))'\(hint) (known: \(registry.kinds.joined(separator: ", ")))")
                continue
            }
            guard let columns = ColumnSelection.read(from: reader, rowWidth: featureCount) else { continue }
            let context = StageBuildContext(featureCount: columns.count, batchSize: batchSize)
            if let blueprint = factory.bind(reader, context) {
                plans.append(StagePlan(pipeline: pipeline, position: index, columns: columns, blueprint: blueprint))
            }
        }
        guard mark.noNewErrors, plans.count == items.count else { return nil }
        return plans
    }
}
