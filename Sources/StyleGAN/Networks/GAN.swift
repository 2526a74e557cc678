// The live model of a run: the generator, its exponential moving average (what inference uses)
// and the discriminator, built from one config. One object, owned by the trainer and read by its
// training step; a `Checkpoint` is its file form, with the progress and optimiser state around it.

public final class GAN {
    /// What the networks were built from. Its training fields (batch, phase length) may take a
    /// resumed run's options; the architecture never changes after building.
    public var config: Config
    public let generator: Generator
    public let ema: Generator
    public let discriminator: Discriminator

    /// Untrained networks: G and D from `seed`, the EMA generator a copy of G (nil: unfilled).
    public init(config: Config, seed: UInt64?) {
        self.config = config
        generator = Generator(config: config, seed: seed)
        ema = Generator(config: config, seed: seed)
        discriminator = Discriminator(config: config, seed: seed)
    }

    /// Tensors allocated, not initialised: a loader fills every one from a file.
    static func unfilled(_ config: Config) -> GAN { GAN(config: config, seed: nil) }

    /// Every tensor of the three networks with its file name (G.*, G_ema.*, D.*).
    public var namedTensors: NamedParameters {
        generator.parameters + generator.buffers + GeneratorWeights.namedTensors(ema) + discriminator.parameters + discriminator.buffers
    }
}
