// safetensors reading and writing: a round trip, and hostile files rejected with a clear error
// before anything is allocated.
import Foundation
import Testing
import TestSupport
@testable import StyleGAN

private func header(_ json: String, data: Int = 0, claimedLength: UInt64? = nil) -> Data {
    var d = Data()
    let j = Data(json.utf8)
    withUnsafeBytes(of: (claimedLength ?? UInt64(j.count)).littleEndian) { d.append(contentsOf: $0) }
    d.append(j)
    d.append(Data(repeating: 0, count: data))
    return d
}

@Suite("Safetensors")
struct SafetensorsTests {
    @Test func roundTripWithMetadataAndHalfPrecision() throws {
        let a = Tensor(randomNormal: [3, 4, 5], seed: 1), b = Tensor([1, -2.5, 3.25], shape: [3])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(getpid()).safetensors").path
        try SafetensorsFile.write([("a", a), ("b", b)], metadata: ["format": "test"], dtypes: ["b": .f16], to: path)
        let f = try SafetensorsFile.read(path)
        #expect(f.metadata["format"] == "test")
        #expect(f.names == ["a", "b"])
        #expect(try f.tensor("a", shape: [3, 4, 5]).scalars == a.scalars)
        #expect(try f.tensor("b").scalars == b.scalars)  // exactly representable in F16
        expectError(.safetensors) { try f.tensor("a", shape: [5, 4, 3]) }
        expectError(.safetensors) { try f.tensor("missing") }
        try FileManager.default.removeItem(atPath: path)
    }

    @Test("hostile or corrupt files are rejected", arguments: [
        ("too short", Data([1, 2, 3])),
        ("header length past the end", header("{}", claimedLength: 1 << 40)),
        ("not JSON", header("{{{{ nope")),
        ("offsets past the end", header(#"{"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: 8)),
        ("huge shape", header(#"{"t":{"dtype":"F32","shape":[100000,100000,100000],"data_offsets":[0,16]}}"#, data: 16)),
        ("shape / range mismatch", header(#"{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}"#, data: 16)),
        ("wrong dtype", header(#"{"t":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}"#, data: 16)),
        ("negative dimension", header(#"{"t":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}}"#, data: 16)),
        ("overlapping tensors", header(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, data: 16)),
        ("metadata not strings", header(#"{"__metadata__":{"k":3}}"#)),
    ])
    func rejects(_ label: String, _ bytes: Data) {
        do {
            _ = try SafetensorsFile.parse(bytes, path: label)
            Issue.record("\(label): accepted")
        } catch {
            print("  \(label): \(error)")
        }
    }

    @Test func missingFileIsAnError() {
        expectError(.safetensors) { try SafetensorsFile.read("/nonexistent/file.safetensors") }
    }
}
