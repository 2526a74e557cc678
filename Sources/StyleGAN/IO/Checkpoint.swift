// Checkpoints: one safetensors file with the generator, its EMA copy (what inference uses), the
// discriminator, their buffers (w_avg, fixed noise, spectral-norm vectors) and any training state,
// plus the config and format version in the metadata. Loading checks every tensor against the
// networks the config describes, so a wrong, truncated or hostile file fails with a clear message.
import Foundation

public struct Checkpoint {
    public static let format = "stylegan-swift"
    public static let version = 1

    /// The networks (live objects, shared with whoever trains or reads them).
    public let gan: GAN
    public var config: Config {
        get { gan.config }
        nonmutating set { gan.config = newValue }
    }
    public var generator: Generator { gan.generator }
    /// The exponential moving average of the generator's weights: what people generate with.
    public var ema: Generator { gan.ema }
    public var discriminator: Discriminator { gan.discriminator }
    /// Training progress: images shown (thousands), the resolution reached and the fade-in alpha.
    public var kimg: Double = 0
    public var resolution: Int
    public var alpha: Float = 1
    /// Extra tensors (training state) saved under their own names ("state.*").
    public var state: NamedParameters = []
    /// Extra string metadata (training state that is not a tensor).
    public var extraMetadata: [String: String] = [:]

    /// Untrained networks: G and D from `seed`, the EMA generator a copy of G.
    public init(config: Config, seed: UInt64) { self.init(gan: GAN(config: config, seed: seed), resolution: 4) }

    public init(gan: GAN, kimg: Double = 0, resolution: Int, alpha: Float = 1, state: NamedParameters = [], extraMetadata: [String: String] = [:]) {
        (self.gan, self.kimg, self.resolution, self.alpha, self.state, self.extraMetadata) = (gan, kimg, resolution, alpha, state, extraMetadata)
    }

    /// Every tensor of the file, by name, in a fixed order.
    public var namedTensors: NamedParameters { gan.namedTensors + state }

    public func save(to path: String, halfPrecision: Bool = false) throws {
        try Header(config: config, kimg: kimg, resolution: resolution, alpha: alpha)
            .write(namedTensors, metadata: extraMetadata, halfPrecision: halfPrecision, to: path, what: "checkpoint")
    }

    /// Metadata keys the format itself writes.
    static let ownMetadataKeys: Set<String> = ["format", "format_version", "config", "kimg", "resolution", "alpha"]

    /// What every file of this format carries in its metadata, checked.
    struct Header {
        var config: Config, kimg: Double, resolution: Int, alpha: Float

        /// Writes `tensors` (float16 if asked) with these fields and `metadata` (atomically).
        func write(_ tensors: NamedParameters, metadata: [String: String], halfPrecision: Bool, to path: String, what: String) throws {
            let meta = metadata.merging(["format": Checkpoint.format, "format_version": String(Checkpoint.version), "config": config.json(),
                                         "kimg": String(kimg), "resolution": String(resolution), "alpha": String(alpha)]) { $1 }
            let dtypes = halfPrecision ? Dictionary(uniqueKeysWithValues: tensors.map { ($0.0, SafetensorsDType.f16) }) : [:]
            do {
                try SafetensorsFile.write(tensors, metadata: meta, dtypes: dtypes, to: path)
            } catch let e as StyleGANError where e.domain == .file {
                throw StyleGANError.checkpoint(path, "cannot write \(what): \(e.reason)")
            }
        }
    }

    /// Checks that `file` has every tensor of `named` with its shape (the header suffices), copies
    /// the data in when the file was read whole, and returns the names. (`SafetensorsFile.parse`
    /// gives every tensor a shape, and in a full read its data too.)
    static func assign(_ named: NamedParameters, from file: SafetensorsFile, path: String) throws -> Set<String> {
        for (name, t) in named {
            guard let shape = file.shapes[name] else { throw StyleGANError.checkpoint(path, "missing tensor '\(name)'") }
            guard shape == t.shape else { throw StyleGANError.checkpoint(path, "tensor '\(name)' has shape \(shape), the config needs \(t.shape)") }
            if let stored = file.tensors[name] { t.assign(stored) }
        }
        return Set(named.map(\.0))
    }

    /// Reads a file of this format (checkpoint or generator-only) and validates its metadata.
    static func readValidated(_ path: String, headerOnly: Bool = false) throws -> (SafetensorsFile, Header) {
        let file: SafetensorsFile
        do { file = try SafetensorsFile.read(path, headerOnly: headerOnly) } catch let e as StyleGANError where e.domain == .safetensors {
            throw StyleGANError.checkpoint(path, "not a readable checkpoint: \(e.reason)")
        }
        guard file.metadata["format"] == format else {
            throw StyleGANError.checkpoint(path, "not a \(format) checkpoint (metadata 'format' is \(file.metadata["format"].map { "'\($0)'" } ?? "missing"))")
        }
        guard let v = file.metadata["format_version"].flatMap(Int.init), v == version else {
            throw StyleGANError.checkpoint(path, "unsupported checkpoint format version \(file.metadata["format_version"] ?? "(missing)"); this build reads version \(version)")
        }
        guard let configJSON = file.metadata["config"] else { throw StyleGANError.checkpoint(path, "metadata has no config") }
        let config: Config
        do { config = try Config.fromJSON(configJSON) } catch { throw StyleGANError.checkpoint(path, "\(error)") }
        // Guard against a config that would build absurdly large networks before allocating them.
        // (A generator-only file holds about a quarter of what a checkpoint does.)
        let weightBudget = file.shapes.values.reduce(0) { $0 + $1.reduce(1, *) }
        let slack = file.metadata["contents"] == GeneratorWeights.contents ? 16 : 4
        guard Checkpoint.estimatedParameterCount(config) <= slack * weightBudget + 1_000_000 else {
            throw StyleGANError.checkpoint(path, "config describes networks much larger than the tensors in the file")
        }
        let h = Header(config: config, kimg: file.metadata["kimg"].flatMap(Double.init) ?? 0,
                       resolution: file.metadata["resolution"].flatMap(Int.init) ?? config.resolution,
                       alpha: file.metadata["alpha"].flatMap(Float.init) ?? 1)
        guard config.resolutions.contains(h.resolution), (0...1).contains(h.alpha), h.kimg >= 0 else {
            throw StyleGANError.checkpoint(path, "metadata resolution \(h.resolution) / alpha \(h.alpha) / kimg \(h.kimg) out of range")
        }
        return (file, h)
    }

    /// Loads and validates. Training-state tensors ("state.*") are kept as they are; any other
    /// tensor the config does not describe is an error.
    public static func load(from path: String) throws -> Checkpoint {
        let (file, header) = try readValidated(path)
        if file.metadata["contents"] == GeneratorWeights.contents {
            throw StyleGANError.checkpoint(path, "holds only a generator (from `stylegan export`): it can generate, not resume training")
        }
        var ckpt = Checkpoint(gan: GAN.unfilled(header.config), kimg: header.kimg, resolution: header.resolution, alpha: header.alpha,
                              extraMetadata: file.metadata.filter { !ownMetadataKeys.contains($0.key) })
        let expected = try assign(ckpt.namedTensors, from: file, path: path)
        for name in file.names where !expected.contains(name) {
            guard name.hasPrefix("state.") else { throw StyleGANError.checkpoint(path, "unexpected tensor '\(name)' for config '\(header.config.name)'") }
            ckpt.state.append((name, file.tensors[name]!))
        }
        return ckpt
    }

    /// What `stylegan info` shows, from the header alone (no tensor data is read).
    public struct Summary {
        public var config: Config, kimg: Double, resolution: Int, alpha: Float
        public var metadata: [String: String]
        public var isGeneratorOnly: Bool
        public var stateTensors: Int
        /// Trainable parameters of the mapping, the synthesis and (nil in a generator-only file) D.
        public var mapping: Int, synthesis: Int, discriminator: Int?
    }

    public static func summary(of path: String) throws -> Summary {
        let (file, h) = try readValidated(path, headerOnly: true)
        let generatorOnly = file.metadata["contents"] == GeneratorWeights.contents
        // Unfilled networks cost no drawing and their pages are never touched: only their shapes are read.
        let g = Generator.unfilled(h.config)
        _ = try assign(generatorOnly ? GeneratorWeights.namedTensors(g) : GAN.unfilled(h.config).namedTensors, from: file, path: path)
        let count = { (p: NamedParameters) in p.reduce(0) { $0 + $1.1.count } }
        return Summary(config: h.config, kimg: h.kimg, resolution: h.resolution, alpha: h.alpha,
                       metadata: file.metadata.filter { !ownMetadataKeys.contains($0.key) }, isGeneratorOnly: generatorOnly,
                       stateTensors: file.names.filter { $0.hasPrefix("state.") }.count,
                       mapping: count(g.mapping.namedParameters()), synthesis: count(g.synthesis.namedParameters()),
                       discriminator: generatorOnly ? nil : count(Discriminator.unfilled(h.config).parameters))
    }

    /// Upper bound on parameters a config builds, without building it.
    static func estimatedParameterCount(_ c: Config) -> Int {
        let maxC = c.fmapMax
        let perRes = 2 * (9 * maxC * maxC + 2 * c.wDim * maxC) + 9 * 2 * maxC * maxC + maxC * maxC * 16
        return c.mappingLayers * max(c.zDim, c.wDim) * c.wDim + c.resolutions.count * perRes + c.resolution * c.resolution * 4
    }

    /// Parameter counts (trainable) of the three networks.
    public var parameterCounts: (mapping: Int, synthesis: Int, discriminator: Int) {
        (generator.mapping.namedParameters().reduce(0) { $0 + $1.1.count },
         generator.synthesis.namedParameters().reduce(0) { $0 + $1.1.count },
         discriminator.parameters.reduce(0) { $0 + $1.1.count })
    }
}
