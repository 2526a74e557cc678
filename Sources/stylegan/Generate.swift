// `stylegan generate --network FILE --seeds 0-7,12 --outdir OUT [--trunc PSI] [--trunc-cutoff N]
// [--noise random|const|none] [--grid] [--class K]`: one PNG per seed from the EMA generator.
import ArgumentParser
import Foundation
import Inference
import StyleGAN

extension NoiseMode: ExpressibleByArgument {}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate images by seed (seed0007.png, and grid.png with --grid).")

    @Option(help: "Checkpoint file (.safetensors).") var network: String
    @Option(help: "Seeds: integers and ranges, e.g. 0-7,12.") var seeds: String?
    @Option(help: "Latents instead of seeds: a .npy file of float32 [N, zDim], one image per row (z0000.png ...).") var z: String?
    @Option(help: "A projected w (projected_w.npy from `stylegan project`, [1, wDim] or [layers, wDim]): w.png.") var w: String?
    @Option(help: "Output folder (created if missing).") var outdir: String
    @Option(help: "Truncation psi (StyleGAN's figures use 0.7). No truncation unless given.") var trunc: Float?
    @Option(help: "Truncate only the first N layers (StyleGAN's figures use 8).") var truncCutoff: Int?
    @Option(name: [.customLong("noise"), .customLong("noise-mode")],
            help: "Noise: random (from the seed, or the row of --z), const (the network's fixed maps) or none (zero).")
    var noise: NoiseMode = .random
    @Option(name: .customLong("class"), help: "The class a conditional network makes (0 to classes - 1; required for one).") var classLabel: Int?
    @Flag(help: "Also write all images as one grid.png.") var grid = false
    @Flag(help: "Also write the seeds' w (before truncation) as ws.npy [N, wDim], e.g. to label them for `directions --method labels`.") var saveW = false

    func run() throws {
        guard [seeds != nil, z != nil, w != nil].filter({ $0 }).count == 1 else { throw ValidationError("give one of --seeds, --z and --w") }
        let seedList = try seeds.map(parseSeeds) ?? []
        if truncCutoff != nil && trunc == nil { throw ValidationError("--trunc-cutoff needs --trunc") }
        let truncation = try trunc.map { try Truncation(psi: $0, cutoff: truncCutoff) }
        let synth = try Synthesizer.load(network).conditioned(on: classLabel, needed: seeds != nil || z != nil)
        if let cut = truncCutoff, cut > synth.layerCount {
            throw ValidationError("--trunc-cutoff \(cut) is past the network's \(synth.layerCount) layers")
        }
        try makeOutputFolder(outdir)
        let latents = try z.map { try synth.latents(npy: $0) }
        var images: [Image] = []
        func save(_ img: Image, _ file: String) throws {
            try img.writePNG("\(outdir)/\(file)")
            if grid { images.append(img) }
        }
        try synth.frozen { synth in
            for (row, latent) in (latents ?? []).enumerated() {
                let ws = try synth.styles(z: latent, truncation: truncation)
                try save(synth.image(ws, noise: synth.noiseInput(noise, seed: row)), String(format: "z%04d.png", row))
            }
            if let w {
                let ws = try synth.styles(wFile: w)
                try save(synth.image(try truncation?.apply(ws, wAvg: synth.generator.wAvg) ?? ws, noise: synth.noiseInput(noise, seed: 0)), "w.png")
            }
            for seed in seedList { try save(synth.generate(seed: seed, truncation: truncation, noise: noise), String(format: "seed%04d.png", seed)) }
        }
        if saveW {
            let d = synth.generator.config.wDim
            // Untruncated w is the same on every layer: keep the first.
            let ws = Tensor(try seedList.flatMap { try synth.styles(seed: $0, truncation: nil).scalars.prefix(d) },
                            shape: [seedList.count, d])
            try NumPy.write(ws, to: "\(outdir)/ws.npy")
        }
        if grid {
            try Image.grid(images, columns: Int(Double(images.count).squareRoot().rounded(.up))).writePNG("\(outdir)/grid.png")
        }
        let count = seedList.count + (latents?.count ?? 0) + (w == nil ? 0 : 1)
        print("wrote \(count) image\(count == 1 ? "" : "s") (\(synth.resolution)x\(synth.resolution)) to \(outdir)")
    }
}

/// Creates the folder if needed and checks it can be written, before any work is done.
func makeOutputFolder(_ path: String) throws {
    do {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    } catch {
        throw ValidationError("cannot create output folder \(path): \((error as NSError).localizedDescription)")
    }
    guard FileManager.default.isWritableFile(atPath: path) else { throw ValidationError("output folder \(path) is not writable") }
}
