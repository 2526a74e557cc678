// `stylegan info FILE`: what a checkpoint holds (config, progress, parameter counts).
import ArgumentParser
import StyleGAN

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Describe a checkpoint.")

    @Argument(help: "Checkpoint file (.safetensors).")
    var file: String

    func run() throws {
        let ckpt = try Checkpoint.load(from: file)
        let c = ckpt.config
        let counts = ckpt.parameterCounts
        print("""
        file:        \(file)
        config:      \(c.name) (final resolution \(c.resolution), z \(c.zDim), w \(c.wDim), \
        channels \(c.resolutions.map { "\($0):\(c.channels(at: $0))" }.joined(separator: " ")))
        reached:     \(ckpt.resolution)x\(ckpt.resolution), alpha \(ckpt.alpha), \(String(format: "%.1f", ckpt.kimg)) kimg
        parameters:  mapping \(counts.mapping), synthesis \(counts.synthesis), discriminator \(counts.discriminator)
        options:     D equalised lr \(c.dEqualizedLR), D spectral norm \(c.dSpectralNorm), G spectral norm \(c.gSpectralNorm), \
        minibatch stddev group \(c.mbstdGroupSize)
        training:    \(ckpt.state.isEmpty ? "no training state" : "\(ckpt.state.count) state tensors")
        """)
    }
}
