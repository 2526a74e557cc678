// JSON lines (stats.jsonl, bench --json) escape what they quote: a name with quotes, backslashes
// or control characters still parses back to itself.
import Foundation
import Testing
@testable import StyleGAN

@Suite("JSON lines")
struct JSONLineTests {
    @Test func quotedStringsParseBack() throws {
        for s in ["plain", "a \"quoted\" name", "back\\slash", "tab\tnew\nline", "bell\u{07}", "ünïcödé 🙂"] {
            let row = BenchRow(name: "x", fields: [("label", s), ("value", 1.5)])
            let parsed = try JSONSerialization.jsonObject(with: Data(row.json.utf8)) as! [String: Any]
            #expect(parsed["label"] as? String == s, "\(row.json)")
        }
    }
}
