// What inference needs from a run: the EMA generator (with w_avg and the fixed noise maps), its
// config and how far it was trained, loaded from a full checkpoint or from a generator-only file
// (`stylegan export`, e.g. weights/faces64.safetensors), which holds just "G_ema.*" tensors and
// may store them as float16. Only the generator is built, so loading costs no discriminator.
import Foundation

public struct GeneratorWeights {
    /// Metadata "contents" of a generator-only file; full checkpoints have none.
    public static let contents = "generator"

    public var config: Config
    public var generator: Generator
    public var kimg: Double
    public var resolution: Int
    public var alpha: Float
    /// Metadata beyond the format's own keys (e.g. "description").
    public var extraMetadata: [String: String]
    /// Read from a generator-only file (not a full checkpoint).
    public var isGeneratorOnly = false

    /// The EMA generator's tensors under their file names ("G_ema.*").
    public static func namedTensors(_ g: Generator) -> NamedParameters {
        (g.parameters + g.buffers).map { ("G_ema." + $0.0.dropFirst(2), $0.1) }
    }

    public static func load(from path: String) throws -> GeneratorWeights {
        let (file, header) = try Checkpoint.readValidated(path)
        let generatorOnly = file.metadata["contents"] == contents
        let g = Generator.unfilled(header.config)
        let expected = try Checkpoint.assign(namedTensors(g), from: file, path: path)
        if generatorOnly, let extra = file.names.first(where: { !expected.contains($0) }) {
            throw StyleGANError.checkpoint(path, "unexpected tensor '\(extra)' in a generator-only file")
        }
        let known: Set<String> = Checkpoint.ownMetadataKeys.union(["contents"])
        return GeneratorWeights(config: header.config, generator: g, kimg: header.kimg, resolution: header.resolution, alpha: header.alpha,
                                extraMetadata: file.metadata.filter { !known.contains($0.key) && !$0.key.hasPrefix("train.") },
                                isGeneratorOnly: generatorOnly)
    }

    /// Writes a generator-only file (atomically, as checkpoints are), float16 if asked.
    public func save(to path: String, halfPrecision: Bool = false) throws {
        var meta = extraMetadata
        meta["contents"] = GeneratorWeights.contents
        try Checkpoint.Header(config: config, kimg: kimg, resolution: resolution, alpha: alpha)
            .write(GeneratorWeights.namedTensors(generator), metadata: meta, halfPrecision: halfPrecision, to: path, what: "generator weights")
    }
}

extension GeneratorWeights {
    /// The EMA generator of a checkpoint, without its training metadata ("train.*").
    public init(checkpoint: Checkpoint) {
        self.init(config: checkpoint.config, generator: checkpoint.ema, kimg: checkpoint.kimg, resolution: checkpoint.resolution,
                  alpha: checkpoint.alpha, extraMetadata: checkpoint.extraMetadata.filter { !$0.key.hasPrefix("train.") })
    }
}
