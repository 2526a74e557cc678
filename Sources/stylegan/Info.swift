// `stylegan info FILE`: what a checkpoint or an exported generator holds (config, progress,
// parameter counts).
import ArgumentParser
import StyleGAN

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Describe a checkpoint or exported generator weights.")

    @Argument(help: "Checkpoint or generator file (.safetensors).") var file: String

    func run() throws {
        let s = try Checkpoint.summary(of: file)
        let c = s.config
        let d = s.discriminator.map { "discriminator \($0)" } ?? "no discriminator (generator-only file)"
        var lines = [
            "file:        \(file)",
            "config:      \(c.name) (final resolution \(c.resolution), z \(c.zDim), w \(c.wDim), "
                + "channels \(c.resolutions.map { "\($0):\(c.channels(at: $0))" }.joined(separator: " ")))",
            "reached:     \(s.resolution)x\(s.resolution), alpha \(s.alpha), \(String(format: "%.1f", s.kimg)) kimg",
            "parameters:  mapping \(s.mapping), synthesis \(s.synthesis), \(d)",
            "options:     D equalised lr \(c.dEqualizedLR), D spectral norm \(c.dSpectralNorm), G spectral norm \(c.gSpectralNorm), "
                + "minibatch stddev group \(c.mbstdGroupSize)",
        ]
        let variants = [
            c.demodulate == true ? "weight demodulation (StyleGAN2) in place of AdaIN" : nil, c.instanceNormEpsilon.map { "instance-norm eps \($0)" }, c.biasBeforeBlur == true ? "bias before blur" : nil,
            c.noisePerResolution == true ? "one noise map per resolution" : nil, c.dLinearFromRGB == true ? "linear fromRGB" : nil,
            c.dChannelsChangeFirst == true ? "D blocks widen first" : nil, c.mbstdWholeBatch == true ? "whole-batch stddev" : nil,
        ].compactMap { $0 }
        if c.isConditional { lines.append("classes:     \(c.classCount), D conditioned by \(c.discriminatorConditioning!.rawValue)") }
        if !variants.isEmpty { lines.append("variant:     \(variants.joined(separator: ", "))") }
        if let source = s.metadata["imported_from"] { lines.append("imported:    from \(source)") }
        if !s.isGeneratorOnly { lines.append("training:    \(s.stateTensors == 0 ? "no training state" : "\(s.stateTensors) state tensors")") }
        if let text = s.metadata["description"] { lines.append("description: \(text)") }
        print(lines.joined(separator: "\n"))
    }
}
