// `stylegan directions --network FILE --method sefa --outdir D [--layers 0-17] [--num 10]` and
// `stylegan edit --network FILE --seeds S --direction D.npy [--index K] [--strength 3] [--steps 7]
// [--layers 0-5] --outdir OUT`: unsupervised edit directions (SeFa) and images edited along one.
import ArgumentParser
import Foundation
import Inference
import StyleGAN

struct DirectionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "directions",
        abstract: "Find latent edit directions: sefa (closed-form factorisation of the style affines).")

    enum Method: String, ExpressibleByArgument { case sefa, labels }

    @Option(help: "Checkpoint or weights file.") var network: String
    @Option(help: "Method: sefa, or labels (from --latents and --labels).") var method: Method = .sefa
    @Option(help: "labels: w's of labelled images, a .npy [N, wDim] (e.g. from generate --save-w).") var latents: String?
    @Option(help: "labels: a CSV with one label per row of --latents (0 / 1, or numbers split at their median).") var labels: String?
    @Option(help: "Layers whose style affines are factorised, e.g. 0-5 (default: all).") var layers: String?
    @Option(help: "Directions in the preview grid.") var num: Int = 8
    @Option(help: "Seed of the preview's face.") var seed: Int = 0
    @Option(help: "Largest strength in the preview (columns from -s to s).") var strength: Float = 3
    @Option(help: "Output folder.") var outdir: String

    func run() throws {
        guard num >= 1, strength > 0 else { throw ValidationError("--num and --strength must be positive") }
        let synth = try Synthesizer.load(network)
        if method == .labels {
            guard let latents, let labels else { throw ValidationError("--method labels needs --latents and --labels") }
            let w: Tensor
            do { w = try NumPy.read(latents) } catch { throw StyleGANError.inference("\(error)") }
            guard w.rank == 2, w.shape[1] == synth.generator.config.wDim else {
                throw StyleGANError.inference("\(latents): latents of shape \(w.shape); this network needs [N, \(synth.generator.config.wDim)]")
            }
            let direction = try Directions.fromLabels(latents: w, labels: try Directions.readLabels(labels))
            try makeOutputFolder(outdir)
            try NumPy.write(direction, to: outdir + "/direction.npy")
            print("wrote \(outdir)/direction.npy (from \(w.shape[0]) labelled latents)")
            return
        }
        let chosen = try layers.map { try parseSeeds($0) }
        let dirs = try Directions.sefa(synth.generator, layers: chosen)
        try makeOutputFolder(outdir)
        try NumPy.write(dirs.vectors, to: outdir + "/sefa.npy")
        try NumPy.write(Tensor(dirs.eigenvalues, shape: [dirs.eigenvalues.count]), to: outdir + "/sefa-eigenvalues.npy")
        // Preview: rows = directions, columns = strengths, on the chosen layers.
        let ws = try synth.styles(seed: seed, truncation: nil)
        let editLayers = chosen ?? Array(0..<synth.layerCount)
        let strengths = (0..<5).map { -strength + Float($0) * strength / 2 }
        var cells: [Image] = []
        synth.frozen { synth in
            for k in 0..<min(num, dirs.eigenvalues.count) {
                for s in strengths {
                    cells.append(synth.image(edited(ws, direction: dirs.direction(k), strength: s, layers: editLayers), noise: .const))
                }
            }
        }
        try Image.grid(cells, columns: strengths.count).writePNG(outdir + "/sefa-preview.png")
        print("wrote sefa.npy (\(dirs.eigenvalues.count) directions, eigenvalues \(dirs.eigenvalues.prefix(3).map { String(format: "%.2f", $0) }.joined(separator: ", "))...), sefa-eigenvalues.npy and sefa-preview.png to \(outdir)")
    }
}

struct Edit: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Images of seeds moved along a latent direction (a row per seed: edit-SEED-K.png and grid.png).")

    @Option(help: "Checkpoint or weights file.") var network: String
    @Option(help: "Seeds to edit.") var seeds: String?
    @Option(help: "A projected w (projected_w.npy) to edit (a row before the seeds'; edit-w-K.png).") var w: String?
    @Option(help: "A direction file (.npy, [wDim] or [K, wDim], e.g. sefa.npy).") var direction: String
    @Option(help: "Which row of a [K, wDim] direction file.") var index: Int = 0
    @Option(help: "Largest strength: the row runs from -s to s.") var strength: Float = 3
    @Option(help: "Images per row.") var steps: Int = 7
    @Option(help: "Layers edited, e.g. 0-5 (default: all).") var layers: String?
    @Option(help: "Noise: const (default), random or none.") var noise: NoiseMode = .const
    @Option(help: "Output folder.") var outdir: String
    @Option(name: .customLong("class"), help: "The class a conditional network makes of the seeds (0 to classes - 1; required for one).") var classLabel: Int?
    @Option(help: "Also write N animation frames per seed or w (frame00000.png ...) sweeping the strength from -s to s.") var frames: Int?
    @Flag(help: "With --frames, also encode video.mp4 with ffmpeg (must be on PATH).") var video = false

    func run() throws {
        guard steps >= 2 else { throw ValidationError("--steps must be at least 2") }
        if let frames, !(2...10_000).contains(frames) { throw ValidationError("--frames must be between 2 and 10000") }
        if video && frames == nil { throw ValidationError("--video needs --frames") }
        guard seeds != nil || w != nil else { throw ValidationError("give --seeds, --w or both") }
        let seedList = try seeds.map(parseSeeds) ?? []
        let synth = try Synthesizer.load(network).conditioned(on: classLabel, needed: !seedList.isEmpty)
        let keys = try (w.map { [LatentKey.styles(try synth.styles(wFile: $0), name: "w")] } ?? []) + seedList.map(LatentKey.seed)
        let dir = try loadDirection(direction, index: index, wDim: synth.generator.config.wDim)
        let chosen = try layers.map { try parseSeeds($0) } ?? Array(0..<synth.layerCount)
        if let bad = chosen.first(where: { $0 >= synth.layerCount }) { throw ValidationError("layer \(bad) is past the network's \(synth.layerCount) layers") }
        try makeOutputFolder(outdir)
        var cells: [Image] = []
        var frameCount = 0
        try synth.frozen { synth in
            for key in keys {
                let ws = try key.styles(synth, truncation: nil)
                let image = { (k: Int, n: Int) in
                    synth.image(edited(ws, direction: dir, strength: -strength + 2 * strength * Float(k) / Float(n - 1), layers: chosen),
                                noise: synth.noiseInput(noise, seed: key.noiseSeed))
                }
                for k in 0..<steps {
                    let img = image(k, steps)
                    try img.writePNG(outdir + "/edit-\(key.name)-" + String(format: "%02d.png", k))
                    cells.append(img)
                }
                for k in 0..<(frames ?? 0) {
                    try image(k, frames!).writePNG(outdir + String(format: "/frame%05d.png", frameCount))
                    frameCount += 1
                }
            }
        }
        try Image.grid(cells, columns: steps).writePNG(outdir + "/grid.png")
        print("wrote \(cells.count) images and grid.png" + (frameCount > 0 ? " and \(frameCount) frames" : "") + " to \(outdir)")
        if video {
            try encodeVideo(folder: outdir, output: outdir + "/video.mp4")
            print("wrote \(outdir)/video.mp4")
        }
    }
}
