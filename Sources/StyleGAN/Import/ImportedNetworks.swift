// Weights of other StyleGAN1 implementations (rosinality's PyTorch port, NVIDIA's TensorFlow
// pickles) mapped onto our networks: each reader renames and re-lays-out the foreign tensors into
// our checkpoint names with exact reparametrisations (equalised-lr gains, AdaIN's 1 + y_s, TF's
// HWIO layouts), and this builds the networks of their shapes and fills them, checking that every
// tensor the networks need is there with the right shape.
import Foundation

public struct ImportedNetworks {
    public var config: Config
    /// Tensors under our checkpoint names: "G.*" (trained G), "G_ema.*" (the one people generate
    /// with) and "D.*". G and D may be absent (a bare EMA generator).
    public var tensors: [String: Tensor] = [:]
    /// Where the weights came from, for the file's metadata.
    public var source: String
    /// w_avg is not in the file (rosinality): estimated from the mapping instead.
    public var estimateWAvg = false

    public var hasTrainingNetworks: Bool { tensors.keys.contains { $0.hasPrefix("D.") } && tensors.keys.contains { $0.hasPrefix("G.") } }

    /// Reads any supported file: torch.save (rosinality) or an NVIDIA pickle.
    public static func read(_ path: String, resolution: Int? = nil) throws -> ImportedNetworks {
        let head: Data
        do {
            let h = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            head = h.readData(ofLength: 64)
            try? h.close()
        } catch { throw StyleGANError.importing("\(path): cannot read: \((error as NSError).localizedDescription)") }
        if ZipArchive.looksLikeZip(head) || TorchFile.isLegacy(head) {
            return try Rosinality.read(try TorchFile.load(path), resolution: resolution)
        }
        if head.first == 0x80 { return try NVIDIAPickle.read(path, resolution: resolution) }
        throw StyleGANError.importing("\(path): not a recognised weights file (a torch.save checkpoint of rosinality's StyleGAN, or NVIDIA's StyleGAN .pkl)")
    }

    /// The full checkpoint (G, G_ema, D) when the file had all three, else the EMA generator alone.
    public func build() throws -> (checkpoint: Checkpoint?, generator: GeneratorWeights) {
        try config.validate()
        var ckpt = GradMode.withoutGrad { Checkpoint(config: config, seed: 0) }
        ckpt.resolution = config.resolution
        let ema = ckpt.ema
        try GradMode.withoutGrad {
            try fill(GeneratorWeights.namedTensors(ema))
            if hasTrainingNetworks { try fill(ckpt.generator.parameters + ckpt.generator.buffers + ckpt.discriminator.parameters + ckpt.discriminator.buffers) }
            if estimateWAvg {
                let w = ImportedNetworks.estimatedWAvg(ema)
                ema.wAvg.assign(w)
                ckpt.generator.wAvg.assign(w)
            }
            if config.noisePerResolution == true {
                // One fixed map per resolution, as the port draws one noise per block.
                for g in [ema, ckpt.generator] {
                    for i in stride(from: 1, to: g.synthesis.constNoise.count, by: 2) { g.synthesis.constNoise[i].assign(g.synthesis.constNoise[i - 1]) }
                }
            }
        }
        let meta = ["imported_from": source]
        let weights = GeneratorWeights(config: config, generator: ema, kimg: 0, resolution: config.resolution, alpha: 1, extraMetadata: meta)
        guard hasTrainingNetworks else { return (nil, weights) }
        ckpt.extraMetadata = meta
        return (ckpt, weights)
    }

    /// Copies each of `named` from the imported tensors; buffers the foreign format does not have
    /// (fixed noise, w_avg, spectral-norm vectors) keep what the config built.
    func fill(_ named: NamedParameters) throws {
        for (name, t) in named {
            guard let src = tensors[name] else {
                if name.contains(".noise_const") || name.hasSuffix(".w_avg") || name.hasSuffix(".sn_u") { continue }
                throw StyleGANError.importing("\(source): nothing in the file maps to '\(name)'")
            }
            guard src.shape == t.shape else {
                throw StyleGANError.importing("\(source): '\(name)' has shape \(src.shape) in the file, the network needs \(t.shape)")
            }
            guard (0..<src.count).allSatisfy({ src.data[$0].isFinite }) else { throw StyleGANError.importing("\(source): '\(name)' holds non-finite values") }
            t.assign(src)
        }
    }

    /// The mean of w over 10,240 latents (what rosinality's generate.py averages for its truncation).
    static func estimatedWAvg(_ g: Generator) -> Tensor {
        var sum = Tensor(zeros: [1, g.config.wDim])
        for i in 0..<10 {
            let z = Tensor(randomNormal: [1024, g.config.zDim], seed: 0x3EA7, stream: UInt32(i))
            sum = sum + g.mapping(z).mean(axes: [0], keepDims: true)
        }
        return (sum * 0.1).reshaped([g.config.wDim])
    }

    // MARK: - Shared by the readers

    /// fmapBase / fmapMax reproducing `channels` (by resolution) through NVlabs' nf(), or nil.
    static func channelLayout(_ channels: [Int: Int]) -> (base: Int, max: Int)? {
        guard let top = channels[4] else { return nil }
        var candidates = [top * 16]
        for (r, c) in channels where c < top { candidates.append(c * (r / 2)) }
        for base in candidates {
            var probe = Config.tiny
            (probe.fmapBase, probe.fmapMax, probe.fmapMin) = (base, top, 1)
            if channels.allSatisfy({ probe.channels(at: $0.key) == $0.value }) { return (base, top) }
        }
        return nil
    }

    /// The resolution to build: the one asked for (at most the file's), else the file's.
    static func resolution(asked: Int?, available: Int, source: String) throws -> Int {
        guard let r = asked else { return available }
        guard r >= 4, r & (r - 1) == 0, r <= available else {
            throw StyleGANError.importing("\(source): --resolution \(r) must be a power of two from 4 to the file's \(available)")
        }
        return r
    }
}

/// Scaling used by the readers (offline, on plain buffers).
extension Tensor {
    func scaled(_ s: Float) -> Tensor {
        let out = Tensor(uninitialized: shape)
        for i in 0..<count { out.data[i] = data[i] * s }
        return out
    }
}
