// `stylegan init --config NAME --out FILE [--seed N]`: an untrained network, for tests, benchmarks
// and trying the tools before any training.
import ArgumentParser
import Foundation
import StyleGAN

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write an untrained checkpoint for a config preset.")

    @Option(help: "Config preset: \(Config.presets.map(\.name).joined(separator: ", ")).") var config: String
    @Option(help: "Checkpoint file to write (.safetensors).") var out: String
    @Option(help: "Seed of the initial weights.") var seed: UInt64 = 0
    @Option(help: "Resolution the checkpoint claims to have reached (default: the config's).") var resolution: Int?

    func run() throws {
        let cfg = try Config.preset(named: config)
        var ckpt = GradMode.withoutGrad { Checkpoint(config: cfg, seed: seed) }
        let r = resolution ?? cfg.resolution
        guard cfg.resolutions.contains(r) else {
            throw ValidationError("--resolution \(r) is not one of \(cfg.resolutions.map(String.init).joined(separator: ", "))")
        }
        ckpt.resolution = r
        let folder = URL(fileURLWithPath: out).deletingLastPathComponent().path
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try ckpt.save(to: out)
        let counts = ckpt.parameterCounts
        print("wrote \(out): \(cfg.name), \(r)x\(r), G \(counts.mapping + counts.synthesis) parameters, D \(counts.discriminator)")
    }
}
