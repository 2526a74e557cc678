// Generator-only weights (`stylegan export`): they generate what the checkpoint did (exactly in
// float32, within 1/255 in float16) and they are refused where a training checkpoint is needed.
import Foundation
import Testing
import TestSupport
@testable import Inference
@testable import StyleGAN

@Suite("Generator weights")
struct WeightsTests {
    static let dir: URL = {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("stylegan-weights-\(getpid())")
        try! FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }()

    @Test func exportedWeightsGenerateTheCheckpointsImages() throws {
        let ckpt = try Checkpoint.load(from: tinyCheckpointPath)
        let full = Synthesizer(checkpoint: ckpt)
        for half in [false, true] {
            let path = Self.dir.appendingPathComponent("g-\(half).safetensors").path
            var w = GeneratorWeights(checkpoint: ckpt)
            w.extraMetadata["description"] = "test weights"
            try w.save(to: path, halfPrecision: half)
            let loaded = try GeneratorWeights.load(from: path)
            #expect(loaded.isGeneratorOnly && loaded.resolution == ckpt.resolution && loaded.extraMetadata["description"] == "test weights")
            let s = try Synthesizer.load(path)
            for seed in 0..<4 {
                for noise in [NoiseMode.random, .const] {
                    let a = try full.generate(seed: seed, noise: noise).pixels, b = try s.generate(seed: seed, noise: noise).pixels
                    let worst = zip(a, b).map { abs(Int($0) - Int($1)) }.max()!
                    // float16 keeps 11 significant bits: this untrained net moves by up to 2/255 (the
                    // export command refuses more than 1/255; the shipped weights measured 1/255).
                    #expect(half ? worst <= 2 : worst == 0, "seed \(seed) \(noise) float16 \(half): \(worst)/255")
                }
            }
            // A generator alone cannot resume training.
            expectError(.checkpoint) { try Checkpoint.load(from: path) }
        }
    }

    @Test func unexpectedTensorInGeneratorFileIsRefused() throws {
        let ckpt = try Checkpoint.load(from: tinyCheckpointPath)
        let path = Self.dir.appendingPathComponent("extra.safetensors").path
        try GeneratorWeights(checkpoint: ckpt).save(to: path)
        var file = try SafetensorsFile.read(path)
        file.tensors["D.stray"] = Tensor(zeros: [2])
        try SafetensorsFile.write(file.names.map { ($0, file.tensors[$0]!) } + [("D.stray", file.tensors["D.stray"]!)],
                                  metadata: file.metadata, to: path)
        expectError(.checkpoint) { try GeneratorWeights.load(from: path) }
    }

    @Test func exportCommandRefusesToOverwriteAndWritesWeights() throws {
        let out = Self.dir.appendingPathComponent("cli.safetensors").path
        try? FileManager.default.removeItem(atPath: out)
        // float16 is either within 1/255 on the check seeds and written, or refused leaving no file.
        let (rc16, text16) = try runCLI(["export", "--network", tinyCheckpointPath, "--out", out, "--fp16"])
        if rc16 == 0 {
            #expect(text16.contains("float16"))
            try FileManager.default.removeItem(atPath: out)
        } else {
            #expect(text16.contains("export without --fp16") && !FileManager.default.fileExists(atPath: out), "\(text16)")
        }
        let (rc, text) = try runCLI(["export", "--network", tinyCheckpointPath, "--out", out])
        #expect(rc == 0 && text.contains("at most 0/255"), "\(text)")
        let (rc2, text2) = try runCLI(["export", "--network", tinyCheckpointPath, "--out", out])
        #expect(rc2 != 0 && text2.contains("--force"))
        let (rc3, text3) = try runCLI(["info", out])
        #expect(rc3 == 0 && text3.contains("generator-only"), "\(text3)")
    }
}
