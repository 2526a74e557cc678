// `stylegan export --network CKPT --out FILE [--fp16] [--description TEXT]`: the EMA generator of a
// checkpoint as a generator-only file for shipping (a fraction of the checkpoint's size), checked
// by generating the same seeds from both.
import ArgumentParser
import Foundation
import Inference
import StyleGAN

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a checkpoint's EMA generator (with w_avg and fixed noise) as a generator-only file.")

    @Option(help: "Checkpoint file (.safetensors) from a training run.") var network: String
    @Option(help: "Output file (.safetensors).") var out: String
    @Flag(help: "Store float16 (half the size); refused if any check image moves by more than 1/255.") var fp16 = false
    @Option(help: "A description stored in the file's metadata (data, preset, training).") var description: String?
    @Flag(help: "Replace --out if it exists.") var force = false

    func run() throws {
        if FileManager.default.fileExists(atPath: out) && !force {
            throw ValidationError("\(out) exists; pass --force to replace it")
        }
        var weights = GeneratorWeights(checkpoint: try Checkpoint.load(from: network))
        if let description { weights.extraMetadata["description"] = description }
        // Written beside the target first, so a refused or failed export leaves --out untouched.
        let staging = out + ".partial-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: staging) }
        try weights.save(to: staging, halfPrecision: fp16)
        let before = Synthesizer(weights: weights), after = try Synthesizer.load(staging)
        var worst = 0
        for seed in 0..<8 {
            for noise in [NoiseMode.random, .const] {
                let a = try before.generate(seed: seed, noise: noise), b = try after.generate(seed: seed, noise: noise)
                worst = max(worst, zip(a.pixels, b.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0)
            }
        }
        guard worst <= 1 else {
            throw ValidationError("the exported generator's images differ from the checkpoint's by up to \(worst)/255 on seeds 0-7; export without --fp16")
        }
        if FileManager.default.fileExists(atPath: out) { try FileManager.default.removeItem(atPath: out) }
        try FileManager.default.moveItem(atPath: staging, toPath: out)
        let bytes = (try? FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0
        print(String(format: "wrote %@ (%@, %dx%d, %.1f kimg, %.1f MB%@); seeds 0-7 differ from the checkpoint by at most %d/255",
                     out, weights.config.name, weights.resolution, weights.resolution, weights.kimg,
                     Double(bytes) / 1e6, fp16 ? ", float16" : "", worst))
    }
}
