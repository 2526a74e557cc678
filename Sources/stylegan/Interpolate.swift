// `stylegan interpolate --network FILE --seeds 1,2,3 --outdir OUT [--frames 60] [--space w|z] [--loop] [--video]`
import ArgumentParser
import Foundation
import Inference
import StyleGAN

extension LatentSpace: ExpressibleByArgument {}

struct Interpolate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Latent interpolation frames (frame00000.png ...) and optionally an mp4.")

    @Option(help: "Checkpoint file (.safetensors).") var network: String
    @Option(help: "Seeds to pass through, in order.") var seeds: String
    @Option(help: "Output folder (created if missing).") var outdir: String
    @Option(help: "Frames per segment between consecutive seeds.") var frames = 60
    @Option(help: "Interpolate in w (lerp, after mapping) or z (slerp, before it).") var space: LatentSpace = .w
    @Flag(help: "Return to the first seed at the end.") var loop = false
    @Flag(help: "Also encode video.mp4 with ffmpeg (must be on PATH).") var video = false
    @Option(help: "Truncation psi (none unless given).") var trunc: Float?
    @Option(help: "Noise, held fixed across frames: random (from the first seed), const or none.") var noise: NoiseMode = .random
    @Option(name: .customLong("class"), help: "The class a conditional network makes (0 to classes - 1; required for one).") var classLabel: Int?
    @Option(help: "A projected w (projected_w.npy) as the first key frame (--space w).") var w: String?

    func run() throws {
        let seedList = try parseSeeds(seeds)
        guard seedList.count + (w == nil ? 0 : 1) >= 2 else { throw ValidationError("interpolation needs at least two seeds (or one seed and --w)") }
        guard frames >= 1, frames <= 10_000 else { throw ValidationError("--frames must be between 1 and 10000") }
        let truncation = try trunc.map { try Truncation(psi: $0) }
        let synth = try Synthesizer.load(network).conditioned(on: classLabel)
        try makeOutputFolder(outdir)
        let images = try synth.frozen { synth in
            try interpolationFrames(synth, keys: (try w.map { [LatentKey.styles(try synth.styles(wFile: $0), name: "w")] } ?? []) + seedList.map(LatentKey.seed),
                                    framesPerSegment: frames, space: space, loop: loop, truncation: truncation, noise: noise)
        }
        for (i, img) in images.enumerated() { try img.writePNG(outdir + "/" + String(format: "frame%05d.png", i)) }
        print("wrote \(images.count) frames to \(outdir)")
        if video {
            try encodeVideo(folder: outdir, output: outdir + "/video.mp4")
            print("wrote \(outdir)/video.mp4")
        }
    }
}
