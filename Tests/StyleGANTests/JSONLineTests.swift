// JSON lines (stats.jsonl, bench and metrics --json) escape what they quote: a name with quotes,
// backslashes or control characters still parses back to itself; fields keep their order and a
// non-finite number is null.
import Foundation
import Testing
@testable import StyleGAN

@Suite("JSON lines")
struct JSONLineTests {
    @Test func quotedStringsParseBack() throws {
        for s in ["plain", "a \"quoted\" name", "back\\slash", "tab\tnew\nline", "bell\u{07}", "ünïcödé 🙂", "a/b"] {
            let row = BenchRow(name: "x", fields: [("label", s), ("value", 1.5)])
            let parsed = try JSONSerialization.jsonObject(with: Data(row.json.utf8)) as! [String: Any]
            #expect(parsed["label"] as? String == s, "\(row.json)")
        }
    }

    @Test func orderNumbersAndNonFinite() throws {
        let line = JSONLine([("kimg", 1.5), ("n", 3), ("lr", Float(0.001)), ("loss", Double.nan), ("p", -Float.infinity), ("ok", true)])
        #expect(line.text == #"{"kimg": 1.5, "n": 3, "lr": 0.001, "loss": null, "p": null, "ok": true}"#)
        let parsed = try JSONSerialization.jsonObject(with: Data(line.text.utf8)) as! [String: Any]
        #expect(parsed["loss"] is NSNull)
    }
}
