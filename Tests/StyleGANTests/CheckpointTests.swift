// Checkpoints: a save / load round trip reproduces every tensor and the same images, and damaged,
// foreign or hostile files are rejected with a clear error instead of a crash.
import Foundation
import Testing
@testable import StyleGAN

private func temporaryPath(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-tests-\(getpid())")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
}

/// Rewrites a checkpoint's header and data through `edit` (on the parsed header JSON).
private func rewrite(_ source: String, to path: String, edit: (inout [String: Any]) -> Void) throws {
    let bytes = try Data(contentsOf: URL(fileURLWithPath: source))
    let n = Int(bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
    var header = try JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + n))) as! [String: Any]
    edit(&header)
    let json = try JSONSerialization.data(withJSONObject: header)
    var out = Data()
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
    out.append(json)
    out.append(bytes.subdata(in: (8 + n)..<bytes.count))
    try out.write(to: URL(fileURLWithPath: path))
}

@Suite("Checkpoints")
struct CheckpointTests {
    @Test func roundTripKeepsEveryTensorAndImage() throws {
        var ckpt = GradMode.withoutGrad { Checkpoint(config: .tiny, seed: 3) }
        ckpt.kimg = 12.5
        ckpt.resolution = 16
        ckpt.alpha = 0.25
        GradMode.withoutGrad { ckpt.ema.wAvg.assign(Tensor(randomNormal: [Config.tiny.wDim], seed: 9)) }
        let path = temporaryPath("roundtrip.safetensors")
        try ckpt.save(to: path)
        let back = try Checkpoint.load(from: path)
        #expect(back.config == .tiny && back.kimg == 12.5 && back.resolution == 16 && back.alpha == 0.25)
        let a = ckpt.namedTensors, b = back.namedTensors
        #expect(a.map(\.0) == b.map(\.0))
        for ((name, x), (_, y)) in zip(a, b) { #expect(x.scalars == y.scalars, "\(name) differs after reload") }
        let z = Tensor(randomNormal: [2, Config.tiny.zDim], seed: 5)
        let before = GradMode.withoutGrad { ckpt.ema(z, resolution: 16, alpha: 0.25) }
        let after = GradMode.withoutGrad { back.ema(z, resolution: 16, alpha: 0.25) }
        #expect(before.scalars == after.scalars)
    }

    @Test func untrainedCheckpointsDifferBySeedOnly() {
        let a = Generator(config: .tiny, seed: 1), b = Generator(config: .tiny, seed: 1), c = Generator(config: .tiny, seed: 2)
        #expect(a.parameters.map { $0.1.scalars } == b.parameters.map { $0.1.scalars })
        #expect(a.parameters[0].1.scalars != c.parameters[0].1.scalars)
    }

    @Test func damagedAndForeignFilesAreRejected() throws {
        let good = temporaryPath("good.safetensors")
        try GradMode.withoutGrad { Checkpoint(config: .tiny, seed: 1) }.save(to: good)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        var cases: [(String, String)] = []

        let truncated = temporaryPath("truncated.safetensors")
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))
        cases.append(("truncated", truncated))

        let garbage = temporaryPath("garbage.safetensors")
        try Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }).write(to: URL(fileURLWithPath: garbage))
        cases.append(("random bytes", garbage))

        let wrongConfig = temporaryPath("wrongconfig.safetensors")
        try rewrite(good, to: wrongConfig) { h in
            var meta = h["__metadata__"] as! [String: String]
            meta["config"] = Config.small64.json()
            h["__metadata__"] = meta
        }
        cases.append(("config of another preset", wrongConfig))

        let badConfig = temporaryPath("badconfig.safetensors")
        try rewrite(good, to: badConfig) { h in
            var meta = h["__metadata__"] as! [String: String]
            meta["config"] = meta["config"]!.replacingOccurrences(of: "\"resolution\":32", with: "\"resolution\":33")
            h["__metadata__"] = meta
        }
        cases.append(("resolution not a power of two", badConfig))

        let hugeShape = temporaryPath("hugeshape.safetensors")
        try rewrite(good, to: hugeShape) { h in
            var e = h["G.synthesis.const"] as! [String: Any]
            e["shape"] = [1_000_000, 1_000_000, 1_000_000]
            h["G.synthesis.const"] = e
        }
        cases.append(("huge shape", hugeShape))

        let pastEnd = temporaryPath("pastend.safetensors")
        try rewrite(good, to: pastEnd) { h in
            var e = h["G.synthesis.const"] as! [String: Any]
            e["data_offsets"] = [bytes.count * 4, bytes.count * 4 + 4 * 32 * 16]
            h["G.synthesis.const"] = e
        }
        cases.append(("offsets past the end", pastEnd))

        let wrongDtype = temporaryPath("wrongdtype.safetensors")
        try rewrite(good, to: wrongDtype) { h in
            var e = h["G.synthesis.const"] as! [String: Any]
            e["dtype"] = "I32"
            h["G.synthesis.const"] = e
        }
        cases.append(("wrong dtype", wrongDtype))

        let missing = temporaryPath("missing.safetensors")
        try rewrite(good, to: missing) { h in h["D.block4.fc1.bias"] = nil }
        cases.append(("missing tensor", missing))

        let foreign = temporaryPath("foreign.safetensors")
        try rewrite(good, to: foreign) { h in h["__metadata__"] = ["format": "pt"] }
        cases.append(("not our format", foreign))

        cases.append(("missing file", temporaryPath("does-not-exist.safetensors")))

        for (label, path) in cases {
            do {
                _ = try Checkpoint.load(from: path)
                Issue.record("\(label): accepted")
            } catch {
                print("  \(label): \(error)")
                #expect("\(error)".contains(path), "\(label): the message should name the file")
            }
            // `info` reads the header only, and refuses the same files.
            #expect(throws: (any Error).self, "\(label): summary accepted it") { try Checkpoint.summary(of: path) }
        }
        let s = try Checkpoint.summary(of: good), loaded = try Checkpoint.load(from: good)
        let counts = loaded.parameterCounts
        #expect(s.mapping == counts.mapping && s.synthesis == counts.synthesis && s.discriminator == counts.discriminator)
        #expect(s.config == loaded.config && s.resolution == loaded.resolution && !s.isGeneratorOnly)
    }
}
