// Latent interpolation frames between seeds: lerp in w (after the mapping and truncation) or
// slerp in z (before it), with the noise held fixed so the animation does not flicker.
import Foundation
import StyleGAN

public enum LatentSpace: String, CaseIterable { case w, z }

/// Spherical interpolation of two (1, zDim) latents, as in the ProGAN / StyleGAN videos.
public func slerp(_ a: Tensor, _ b: Tensor, _ t: Float) -> Tensor {
    let (av, bv) = (a.scalars, b.scalars)
    let na = sqrt(av.reduce(0) { $0 + Double($1) * Double($1) }), nb = sqrt(bv.reduce(0) { $0 + Double($1) * Double($1) })
    let dot = zip(av, bv).reduce(0) { $0 + Double($1.0) * Double($1.1) } / max(na * nb, 1e-12)
    let omega = acos(min(1, max(-1, dot)))
    let (wa, wb): (Double, Double) = omega < 1e-6
        ? (1 - Double(t), Double(t))
        : (sin((1 - Double(t)) * omega) / sin(omega), sin(Double(t) * omega) / sin(omega))
    return Tensor(zip(av, bv).map { Float(wa * Double($0) + wb * Double($1)) }, shape: a.shape)
}

/// Frames from seed to seed: `framesPerSegment` per pair, ending exactly on the last seed (or,
/// with `loop`, running back to the first, which is not repeated).
public func interpolationFrames(_ s: Synthesizer, seeds: [Int], framesPerSegment: Int, space: LatentSpace,
                                loop: Bool, truncation: Truncation? = nil, noise: NoiseMode = .random) throws -> [Image] {
    try interpolationFrames(s, keys: seeds.map(LatentKey.seed), framesPerSegment: framesPerSegment, space: space, loop: loop,
                            truncation: truncation, noise: noise)
}

/// The same through key frames that may be given styles (a projected photo), in w only.
public func interpolationFrames(_ s: Synthesizer, keys: [LatentKey], framesPerSegment: Int, space: LatentSpace,
                                loop: Bool, truncation: Truncation? = nil, noise: NoiseMode = .random) throws -> [Image] {
    guard keys.count >= 2 else { throw StyleGANError.inference("interpolation needs at least two seeds or key frames") }
    guard framesPerSegment >= 1 else { throw StyleGANError.inference("--frames must be at least 1") }
    if space == .z, keys.contains(where: { if case .styles = $0 { return true } else { return false } }) {
        throw StyleGANError.inference("a projected w has no z: interpolate it with --space w")
    }
    let stops = loop ? keys + [keys[0]] : keys
    // The first key's noise for every frame.
    let fixedNoise: NoiseInput = noise == .random
        ? .given(s.generator.synthesis.noiseMaps(.random(seed: UInt64(keys[0].noiseSeed)), batch: 1, layers: s.layerCount).map { $0! })
        : s.noiseInput(noise, seed: keys[0].noiseSeed)
    var frames: [Image] = []
    let zDim = s.generator.config.zDim
    for k in 0..<(stops.count - 1) {
        let (a, b) = (stops[k], stops[k + 1])
        let (wa, wb) = (try a.styles(s, truncation: truncation), try b.styles(s, truncation: truncation))
        let (za, zb) = (Generator.latent(seed: a.noiseSeed, zDim: zDim), Generator.latent(seed: b.noiseSeed, zDim: zDim))
        let last = k == stops.count - 2 && !loop
        for f in 0..<(framesPerSegment + (last ? 1 : 0)) {
            let t = Float(f) / Float(framesPerSegment)
            let ws = space == .w
                ? GradMode.withoutGrad { wa + (wb - wa) * t }
                : try s.styles(z: slerp(za, zb, t), truncation: truncation, seed: a.noiseSeed)
            frames.append(s.image(ws, noise: fixedNoise))
        }
    }
    return frames
}

/// Encodes frameNNNNN.png in `folder` to an mp4 with ffmpeg, if it is installed.
public func encodeVideo(folder: String, fps: Int = 30, output: String) throws {
    let which = Process()
    which.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    which.arguments = ["which", "ffmpeg"]
    which.standardOutput = FileHandle.nullDevice
    which.standardError = FileHandle.nullDevice
    try which.run()
    which.waitUntilExit()
    guard which.terminationStatus == 0 else {
        throw StyleGANError.inference("--video needs ffmpeg on PATH (e.g. apt-get install ffmpeg); the PNG frames are written")
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["ffmpeg", "-y", "-loglevel", "error", "-framerate", String(fps), "-i", folder + "/frame%05d.png",
                   "-c:v", "libx264", "-pix_fmt", "yuv420p", output]
    try p.run()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { throw StyleGANError.inference("ffmpeg failed (exit \(p.terminationStatus)) writing \(output)") }
}
