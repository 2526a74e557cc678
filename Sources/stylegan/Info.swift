// `stylegan info FILE`: what a checkpoint or an exported generator holds (config, progress,
// parameter counts).
import ArgumentParser
import StyleGAN

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Describe a checkpoint or exported generator weights.")

    @Argument(help: "Checkpoint or generator file (.safetensors).")
    var file: String

    func run() throws {
        let weights = try GeneratorWeights.load(from: file)
        let c = weights.config
        let count = { (p: NamedParameters) in p.reduce(0) { $0 + $1.1.count } }
        let ckpt = weights.isGeneratorOnly ? nil : try Checkpoint.load(from: file)
        let d = ckpt.map { "discriminator \(count($0.discriminator.parameters))" } ?? "no discriminator (generator-only file)"
        var lines = [
            "file:        \(file)",
            "config:      \(c.name) (final resolution \(c.resolution), z \(c.zDim), w \(c.wDim), "
                + "channels \(c.resolutions.map { "\($0):\(c.channels(at: $0))" }.joined(separator: " ")))",
            "reached:     \(weights.resolution)x\(weights.resolution), alpha \(weights.alpha), \(String(format: "%.1f", weights.kimg)) kimg",
            "parameters:  mapping \(count(weights.generator.mapping.namedParameters())), synthesis \(count(weights.generator.synthesis.namedParameters())), \(d)",
            "options:     D equalised lr \(c.dEqualizedLR), D spectral norm \(c.dSpectralNorm), G spectral norm \(c.gSpectralNorm), "
                + "minibatch stddev group \(c.mbstdGroupSize)",
        ]
        let variants = [
            c.instanceNormEpsilon.map { "instance-norm eps \($0)" }, c.biasBeforeBlur == true ? "bias before blur" : nil,
            c.noisePerResolution == true ? "one noise map per resolution" : nil, c.dLinearFromRGB == true ? "linear fromRGB" : nil,
            c.dChannelsChangeFirst == true ? "D blocks widen first" : nil, c.mbstdWholeBatch == true ? "whole-batch stddev" : nil,
        ].compactMap { $0 }
        if !variants.isEmpty { lines.append("variant:     \(variants.joined(separator: ", "))") }
        if let source = weights.extraMetadata["imported_from"] { lines.append("imported:    from \(source)") }
        if let ckpt { lines.append("training:    \(ckpt.state.isEmpty ? "no training state" : "\(ckpt.state.count) state tensors")") }
        if let text = weights.extraMetadata["description"] { lines.append("description: \(text)") }
        print(lines.joined(separator: "\n"))
    }
}
