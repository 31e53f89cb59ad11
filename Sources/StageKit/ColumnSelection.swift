/// Which columns of a row a stage sees, so one-hot, ID or label columns can pass through untouched.
///
/// Written as a list of column indices and Python-style half-open slices, negatives counting from
/// the end: `columns: [0, 3, "5:9", "-2:"]`. The selected columns keep row order and may not repeat.
public struct ColumnSelection: Sendable, Hashable, CustomStringConvertible {
    /// Sorted, distinct, 0-based column indices.
    public let indices: [Int]
    /// Width of the row the indices refer to.
    public let rowWidth: Int

    public static func all(_ width: Int) -> ColumnSelection {
        ColumnSelection(indices: Array(0..<width), rowWidth: width)
    }

    public init(indices: [Int], rowWidth: Int) {
        self.indices = indices
        self.rowWidth = rowWidth
    }

    public var isAll: Bool { indices.count == rowWidth }
    public var count: Int { indices.count }

    /// Contiguous runs of the selection, so gathering copies whole runs instead of single values.
    public var runs: [Range<Int>] {
        var runs: [Range<Int>] = []
        for index in indices {
            if let last = runs.last, last.upperBound == index {
                runs[runs.count - 1] = last.lowerBound..<(index + 1)
            } else {
                runs.append(index..<(index + 1))
            }
        }
        return runs
    }

    public var description: String {
        runs.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound):\($0.upperBound)" }.joined(separator: ",")
    }

    /// Reads `columns:` from a stage's parameters; all columns when absent. Problems go to the
    /// reader's diagnostics and give `nil`.
    public static func read(from reader: ParameterReader, rowWidth: Int) -> ColumnSelection? {
        guard let node = reader.value("columns"), !node.isNull else { return .all(rowWidth) }
        let items: [ConfigNode] = node.listItems ?? [node]
        let path = reader.path(of: "columns")
        // Columns may not repeat, so a longer list than the row is wrong whatever it holds.
        guard items.count <= rowWidth else {
            reader.diagnostics.error(
                at: node.location, path: path,
                "lists \(items.count) entries, more than the \(rowWidth) columns of a row")
            return nil
        }
        var chosen = Set<Int>()
        var ok = true
        for (position, item) in items.enumerated() {
            let itemPath = node.listItems == nil ? path : path.appending(index: position)
            func fail(_ message: String) {
                reader.diagnostics.error(at: item.location, path: itemPath, message)
                ok = false
            }
            switch item.value {
            case .int(let index):
                let resolved = index < 0 ? rowWidth + index : index
                guard (0..<rowWidth).contains(resolved) else {
                    fail("column \(index) is outside a row of \(rowWidth) features")
                    continue
                }
                if !chosen.insert(resolved).inserted { fail("column \(resolved) is selected twice") }
            case .string(let text):
                guard let range = parseSlice(text, width: rowWidth) else {
                    fail("expected a column index or a slice like \"2:5\" (start included, stop excluded), got \(item.quoted)")
                    continue
                }
                guard !range.isEmpty else {
                    fail("slice \(item.quoted) selects no column of a row of \(rowWidth) features")
                    continue
                }
                for index in range where !chosen.insert(index).inserted {
                    fail("column \(index) is selected twice")
                    break
                }
            default:
                fail("expected a column index or a slice like \"2:5\", got \(item.value.typeName) \(item.quoted)")
            }
        }
        guard ok else { return nil }
        guard !chosen.isEmpty else {
            reader.diagnostics.error(at: node.location, path: path, "selects no column")
            return nil
        }
        return ColumnSelection(indices: chosen.sorted(), rowWidth: rowWidth)
    }

    /// `"a:b"`, `"a:"`, `":b"`, negatives from the end, clamped to the row like Python slices.
    static func parseSlice(_ text: String, width: Int) -> Range<Int>? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: " ") }
        guard parts.count == 2 else {
            if parts.count == 1, let single = Int(parts[0]) {
                let resolved = single < 0 ? width + single : single
                return (0..<width).contains(resolved) ? resolved..<(resolved + 1) : nil
            }
            return nil
        }
        func bound(_ part: String, default value: Int) -> Int? {
            if part.isEmpty { return value }
            guard let raw = Int(part) else { return nil }
            return min(max(raw < 0 ? width + raw : raw, 0), width)
        }
        guard let start = bound(parts[0], default: 0), let stop = bound(parts[1], default: width) else { return nil }
        return start..<max(start, stop)
    }
}

private extension Substring {
    func trimmingCharacters(in character: Character) -> String {
        var s = self
        while s.first == character { s.removeFirst() }
        while s.last == character { s.removeLast() }
        return String(s)
    }
}
