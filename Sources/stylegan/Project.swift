// `stylegan project --network FILE --target photo.png --outdir D [--steps 1000] [--space w|w+] [--seed S]`:
// the latent (and noise maps) that make the generator reproduce a photo (centre-cropped and
// resized to the network's resolution, as `prepare` does); writes projected_w.npy, proj.png,
// target.png and noise.safetensors (and with --video the optimisation, target beside projection).
import ArgumentParser
import Foundation
import Inference
import StyleGAN
import Training

struct Project: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Project an image into the latent space (W or W+), as NVIDIA's projector.")

    enum Space: String, ExpressibleByArgument { case w, wPlus = "w+" }

    @Option(help: "Checkpoint or weights file.") var network: String
    @Option(help: "The image to reproduce (PNG or JPEG, RGB).") var target: String
    @Option(help: "Output folder.") var outdir: String
    @Option(help: "Optimisation steps.") var steps: Int = 1000
    @Option(help: "w (one w for all layers) or w+ (one per layer).") var space: Space = .w
    @Option(help: "Seed of the initial noise maps and the noise added to w.") var seed: UInt64 = 0
    @Option(help: "Weight of the pixel distance (MSE on a 2x pyramid).") var pixelWeight: Float = 1
    @Option(help: "Weight of the perceptual distance (Inception-v3 features, LPIPS-style; 0: off). It needs the FID network (see `metrics`); about 10x slower per step at 64 px.") var perceptualWeight: Float = 0
    @Option(help: "The converted Inception network for the perceptual distance (default: as `metrics`).") var inception: String?
    @Flag(help: "Also write the optimisation as a video: target and projection side by side at each step (video.mp4 with ffmpeg; the frames in video-frames/ if ffmpeg is absent).") var video = false
    @Flag(help: "No progress line.") var quiet = false

    func run() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1") }
        guard pixelWeight >= 0, perceptualWeight >= 0, pixelWeight + perceptualWeight > 0 else { throw ValidationError("the distance weights must be >= 0, not both 0") }
        guard FileManager.default.fileExists(atPath: target) else { throw StyleGANError.inference("\(target): no such file") }
        let weights = try GeneratorWeights.load(from: network)
        let r = weights.resolution
        let image: Image
        do { image = try Image.read(target).centreSquare(resolution: r) } catch let e as StyleGANError where e.domain == .image {
            throw StyleGANError.inference(e.description.hasPrefix(target) ? e.description : "\(target): \(e.description)")
        }
        try makeOutputFolder(outdir)
        var options = ProjectionOptions()
        (options.steps, options.wPlus, options.seed) = (steps, space == .wPlus, seed)
        (options.pixelWeight, options.perceptualWeight) = (pixelWeight, perceptualWeight)
        let perceptual = perceptualWeight > 0 ? try InceptionV3.load(inception) : nil
        let frames = outdir + "/video-frames"
        if video { try makeOutputFolder(frames) }
        let line = ProgressLine(total: steps, unit: "step", enabled: !quiet)
        var frameError: Error?
        let result = Projector.project(weights.generator, target: image.tensor, resolution: r, options: options, perceptual: perceptual) { step, d, synth in
            line.update(done: step + 1, text: String(format: "step %4d / %d  distance %.5f", step + 1, steps, d), force: step == steps - 1)
            // As NVIDIA's projector's proj.mp4: the target beside the step's image.
            guard video, frameError == nil else { return }
            do { try Image.grid([image, Image(synth, index: 0)], columns: 2).writePNG(frames + String(format: "/frame%05d.png", step)) } catch {
                frameError = error
            }
        }
        line.finish()
        if let frameError { throw frameError }
        let l = result.ws.shape[1], d = result.ws.shape[2]
        try NumPy.write(space == .wPlus ? result.ws.reshaped([l, d]) : result.ws.narrow(axis: 1, start: 0, length: 1).reshaped([1, d]),
                        to: outdir + "/projected_w.npy")
        try Image(result.image, index: 0).writePNG(outdir + "/proj.png")
        try image.writePNG(outdir + "/target.png")
        try SafetensorsFile.write(result.noise.enumerated().map { ("noise\($0.offset)", $0.element) }, to: outdir + "/noise.safetensors")
        let mse = GradMode.withoutGrad { (result.image - image.tensor).square().mean().item }
        print(String(format: "wrote projected_w.npy (%@), proj.png, target.png, noise.safetensors to %@; PSNR %.2f dB", space.rawValue, outdir,
                     10 * log10(4 / Double(mse))))
        if video {
            do {
                try encodeVideo(folder: frames, fps: 60, output: outdir + "/video.mp4")
                try? FileManager.default.removeItem(atPath: frames)
                print("wrote \(outdir)/video.mp4")
            } catch {
                // The frames are the video's content: keep them rather than fail the projection.
                print("note: \(error); the \(steps) frames are in \(frames)")
            }
        }
    }
}
