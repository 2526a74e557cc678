// A conditional network from the command line and the API: `--class` picks the class, is
// required where the images depend on it and refused where there is none; the metrics' and
// snapshots' seeds take the classes in turn.
import Foundation
import Testing
import TestSupport
@testable import Inference
@testable import StyleGAN

/// A tiny untrained conditional checkpoint (4 classes, projection D) at 8 px.
let conditionalCheckpointPath: String = {
    var config = Config.tiny
    config.classes = 4
    return writeUntrainedCheckpoint("tiny-cond.safetensors", config: config, resolution: 8)
}()

@Suite("Conditional generation")
struct ConditionalGenerateTests {
    @Test func theClassIsRequiredCheckedAndUsed() throws {
        let s = try Synthesizer.load(conditionalCheckpointPath)
        #expect(s.generator.config.classCount == 4)
        #expect(try failureText { _ = try s.conditioned(on: nil) }.contains("choose a class with --class (0 to 3)"))
        #expect(try failureText { _ = try s.conditioned(on: 4) }.contains("--class 4 is out of range"))
        #expect(try failureText { _ = try s.conditioned(on: -1) }.contains("out of range"))
        let plain = try Synthesizer.load(tinyCheckpointPath)
        #expect(try failureText { _ = try plain.conditioned(on: 0) }.contains("unconditional"))
        #expect(try plain.conditioned(on: nil).classLabel == nil)

        let images = try (0..<4).map { k in try s.conditioned(on: k).generate(seed: 3, noise: .const).pixels }
        #expect(Set(images).count == 4, "each class gives its own image of a seed")
        #expect(try s.conditioned(on: 2).generate(seed: 3, noise: .const).pixels == images[2])
        // A batch of seeds with no class asked: seed s of class s mod 4 (metrics, snapshots).
        let batch = s.imageTensor(seeds: [5, 6])
        let one = try s.conditioned(on: 6 % 4).imageTensor(seed: 6, noise: .random)
        #expect(batch.narrow(axis: 0, start: 1, length: 1).scalars.elementsEqual(one.scalars) { abs($0 - $1) < 1e-4 })
    }

    @Test func commandLine() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-cli-\(getpid())-cond").path
        let net = ["--network", conditionalCheckpointPath]
        var (status, text) = try runCLI(["generate"] + net + ["--seeds", "0-1", "--class", "3", "--outdir", out])
        #expect(status == 0, "\(text)")
        for (command, args) in [("generate", ["--seeds", "0"]), ("mix", ["--rows", "1", "--cols", "2"]), ("interpolate", ["--seeds", "1,2", "--frames", "2"])] {
            (status, text) = try runCLI([command] + net + args + ["--outdir", out])
            #expect(status != 0 && text.contains("choose a class with --class"), "\(command): \(text)")
            (status, text) = try runCLI([command] + net + args + ["--outdir", out, "--class", "9"])
            #expect(status != 0 && text.contains("out of range"), "\(command): \(text)")
            (status, text) = try runCLI([command] + net + args + ["--outdir", out, "--class", "1"])
            #expect(status == 0, "\(command): \(text)")
            (status, text) = try runCLI([command, "--network", tinyCheckpointPath] + args + ["--outdir", out, "--class", "1"])
            #expect(status != 0 && text.contains("unconditional"), "\(command): \(text)")
        }
        (status, text) = try runCLI(["info", conditionalCheckpointPath])
        #expect(text.contains("classes:     4, D conditioned by projection"), "\(text)")
    }
}

private func failureText(_ body: () throws -> Void) throws -> String {
    do { try body() } catch let e as StyleGANError { return e.reason }
    Issue.record("nothing was thrown")
    return ""
}
