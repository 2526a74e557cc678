// Config: every hyper-parameter of the networks and of training in one value, with named presets.
// The checkpoint carries it as JSON, so a file alone is enough to rebuild its networks.
import Foundation

public struct Config: Codable, Equatable {
    public var name: String
    /// Final output resolution (a power of two, >= 4).
    public var resolution: Int
    public var zDim: Int
    public var wDim: Int
    public var mappingLayers = 8
    public var mappingLRMul: Float = 0.01
    /// Channels at stage s (resolution 2^(s+1)): clamp(fmapBase / 2^s, fmapMin, fmapMax), as NVlabs' nf().
    public var fmapBase: Int
    public var fmapMax: Int
    public var fmapMin = 1
    /// Fused up/down-sampling convolutions from this resolution up (NVlabs' fused_scale='auto').
    public var fusedScaleFrom = 128
    /// Minibatch standard deviation group size (1 turns the layer off).
    public var mbstdGroupSize = 4
    /// Equalised learning rate in D (NVlabs' use_wscale), and spectral normalisation of D's weights.
    public var dEqualizedLR = true
    public var dSpectralNorm = false
    /// Spectral normalisation of G's convolutions (off in the paper).
    public var gSpectralNorm = false
    /// StyleGAN2's weight demodulation in place of AdaIN's instance normalisation (nil: StyleGAN1's
    /// AdaIN): each layer scales its output by 1 + affine(w), the next conv divides its outputs by
    /// the norm of its weights so modulated, and toRGB reads the scaled output (`StyleModulation`).
    public var demodulate: Bool?

    // Variants of other StyleGAN ports, recorded so that their imported weights run exactly as in
    // their own code (nil everywhere: NVlabs' StyleGAN, which our own runs train).
    /// Instance-norm epsilon (rosinality: PyTorch's InstanceNorm2d default, 1e-5; nil: 1e-8).
    public var instanceNormEpsilon: Float?
    /// The upsampling conv's bias is added before its blur (rosinality), not after (NVlabs).
    public var biasBeforeBlur: Bool?
    /// Random noise: one map per resolution shared by its two layers (rosinality), not one per layer.
    public var noisePerResolution: Bool?
    /// D's fromRGB is linear (rosinality's model default), not followed by leaky ReLU.
    public var dLinearFromRGB: Bool?
    /// A D block changes the channel count in its first conv (rosinality), not in the down conv.
    public var dChannelsChangeFirst: Bool?
    /// Minibatch stddev over the whole batch (rosinality), not groups of `mbstdGroupSize`.
    public var mbstdWholeBatch: Bool?

    /// Class-conditional networks: the number of classes (nil: unconditional). G embeds the class
    /// into its mapping input (StyleGAN2-ADA); D uses it as `conditionalD` says.
    public var classes: Int?
    /// How a conditional D uses the class (nil: projection).
    public var conditionalD: ConditionalD?

    // Training
    /// Batch size, and per resolution where it differs (ProGAN's minibatch dict).
    public var batchSize: Int
    public var batchByResolution: [Int: Int]? = nil
    /// Images shown per stabilise and per fade-in phase, in thousands.
    public var phaseKimg: Double
    public var learningRate: Float = 0.001
    /// Learning rate per resolution where it differs from `learningRate` (StyleGAN's G_lrate_dict).
    public var learningRateByResolution: [Int: Float]? = nil
    public var styleMixingProb: Float = 0.9
    public var emaHalfLifeKimg: Double = 10
    public var wAvgBeta: Float = 0.995

    public var instanceNormEps: Float { instanceNormEpsilon ?? normEpsilon }

    /// A conditional D's use of the class.
    public enum ConditionalD: String, Codable, CaseIterable {
        /// The projection discriminator (Miyato & Koyama 2018): the score plus the inner product of
        /// D's last features with the class's embedding.
        case projection
        /// ACGAN (Odena et al. 2017): an unconditional score and an auxiliary classifier head whose
        /// cross-entropy both networks minimise.
        case acgan
    }

    /// The number of classes of a conditional network, 0 for an unconditional one.
    public var classCount: Int { classes ?? 0 }
    public var isConditional: Bool { classCount > 0 }
    public var discriminatorConditioning: ConditionalD? { isConditional ? conditionalD ?? .projection : nil }

    /// The minibatch-stddev group for a batch of n (1: the layer is off).
    public func mbstdGroup(batch n: Int) -> Int { mbstdWholeBatch == true ? n : min(mbstdGroupSize, n) }

    public func batchSize(at r: Int) -> Int { batchByResolution?[r] ?? batchSize }
    public func learningRate(at r: Int) -> Float { learningRateByResolution?[r] ?? learningRate }

    /// Channels at stage s (NVlabs' nf).
    public func nf(_ stage: Int) -> Int {
        min(max(fmapBase >> stage, fmapMin), fmapMax)
    }

    /// Channels of the feature maps at resolution r.
    public func channels(at r: Int) -> Int { nf(log2(r) - 1) }

    /// Synthesis layers of the network at resolution r: two per resolution from 4x4.
    public static func layerCount(at r: Int) -> Int { 2 * log2(r) - 2 }
    public var layerCount: Int { Config.layerCount(at: resolution) }

    /// Resolutions from 4 to the final one.
    public var resolutions: [Int] { (2...log2(resolution)).map { 1 << $0 } }

    /// Checks the values a hand-edited or foreign checkpoint could get wrong.
    public func validate() throws {
        func fail(_ s: String) -> StyleGANError { .config("config '\(name)': \(s)") }
        guard resolution >= 4, resolution <= 4096, resolution & (resolution - 1) == 0 else {
            throw fail("resolution \(resolution) must be a power of two between 4 and 4096")
        }
        guard (1...4096).contains(zDim), (1...4096).contains(wDim) else { throw fail("z/w dimensions \(zDim)/\(wDim) out of range") }
        guard (1...32).contains(mappingLayers) else { throw fail("mapping layers \(mappingLayers) out of range") }
        guard fmapMin >= 1, fmapMax >= fmapMin, fmapMax <= 4096, fmapBase >= 1 else { throw fail("channel settings out of range") }
        guard mbstdGroupSize >= 1, batchSize >= 1, phaseKimg > 0 else { throw fail("batch, group size and phase length must be positive") }
        guard mappingLRMul > 0, learningRate > 0, (learningRateByResolution ?? [:]).values.allSatisfy({ $0 > 0 }) else {
            throw fail("learning rates must be positive")
        }
        guard (batchByResolution ?? [:]).values.allSatisfy({ $0 >= 1 }) else { throw fail("batch sizes must be positive") }
        if let classes, !(1...65536).contains(classes) { throw fail("\(classes) classes: a conditional network has 1 to 65536") }
        if conditionalD != nil && classes == nil { throw fail("conditionalD is set but the network has no classes") }
    }
}

/// The exponent of a power of two (resolutions).
public func log2(_ r: Int) -> Int {
    precondition(r > 0 && r & (r - 1) == 0, "\(r) is not a power of two")
    return r.trailingZeroBitCount
}

extension Config {
    /// Test-sized: builds and runs in milliseconds; grows 4 -> 32.
    public static let tiny = Config(
        name: "tiny", resolution: 32, zDim: 32, wDim: 32, mappingLayers: 8, fmapBase: 128, fmapMax: 32, fmapMin: 8,
        batchSize: 8, phaseKimg: 0.5)

    /// CPU-friendly up to 64x64: w 256, 256 channels up to 16 px, 128 at 32, 64 at 64, batch 16.
    public static let small64 = Config(
        name: "small64", resolution: 64, zDim: 256, wDim: 256, fmapBase: 2048, fmapMax: 256,
        batchSize: 16, phaseKimg: 60)

    /// The paper's network at 256x256: 512-wide mapping and styles, 512 channels down to 64 at 256;
    /// the paper's higher learning rates at 128 and 256 px.
    public static let paper256 = Config(
        name: "paper256", resolution: 256, zDim: 512, wDim: 512, fmapBase: 8192, fmapMax: 512,
        batchSize: 8, phaseKimg: 600, learningRateByResolution: [128: 0.0015, 256: 0.002])

    /// NVIDIA's released FFHQ / CelebA-HQ network (karras2019stylegan-ffhq-1024x1024.pkl): what
    /// `stylegan import` builds for those files; 18 style layers.
    public static let paper1024 = Config(
        name: "paper1024", resolution: 1024, zDim: 512, wDim: 512, fmapBase: 8192, fmapMax: 512,
        batchSize: 4, phaseKimg: 600, learningRateByResolution: [128: 0.0015, 256: 0.002, 512: 0.003, 1024: 0.003])

    public static let presets: [Config] = [.tiny, .small64, .paper256, .paper1024]

    public static func preset(named name: String) throws -> Config {
        guard let c = presets.first(where: { $0.name == name }) else {
            throw StyleGANError.config("unknown config '\(name)'; choose one of: \(presets.map(\.name).joined(separator: ", "))")
        }
        return c
    }

    public func json() -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        return String(decoding: try! enc.encode(self), as: UTF8.self)
    }

    public static func fromJSON(_ s: String) throws -> Config {
        do {
            let c = try JSONDecoder().decode(Config.self, from: Data(s.utf8))
            try c.validate()
            return c
        } catch let e as StyleGANError where e.domain == .config {
            throw e
        } catch {
            throw StyleGANError.config("config metadata is not a valid Config: \(error)")
        }
    }
}
