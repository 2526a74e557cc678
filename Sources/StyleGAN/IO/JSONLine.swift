// One JSON object per line: stats.jsonl and every `--json` output (bench, metrics). Fields keep
// the order given (kimg first reads better than sorted keys); each key and value is encoded by
// JSONEncoder, so escaping and number formats are Foundation's, and a non-finite number is null.
import Foundation

public struct JSONLine {
    public var fields: [(String, any Encodable)]

    public init(_ fields: [(String, any Encodable)]) { self.fields = fields }

    public var text: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        func encode(_ value: any Encodable) -> String {
            switch value {
            case let d as Double where !d.isFinite: return "null"
            case let f as Float where !f.isFinite: return "null"
            default: return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
            }
        }
        return "{" + fields.map { encode($0.0) + ": " + encode($0.1) }.joined(separator: ", ") + "}"
    }

    /// Appends the line to `path` (created if absent) in one write.
    public func append(to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else { throw StyleGANError.file(path, "cannot open for appending: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array((text + "\n").utf8)
        guard bytes.withUnsafeBytes({ Foundation.write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw StyleGANError.file(path, "write failed: \(String(cString: strerror(errno)))")
        }
    }
}
