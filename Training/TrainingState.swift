// What a checkpoint holds of a run beyond its tensors: the counters that make a resumed run replay
// an uninterrupted one, and the run's settings, so that `--resume latest` continues with them
// unless an option given then changes one. One Codable value in the metadata key "train.state";
// checkpoints written before it (one "train.*" string per field) still read.
import Foundation
import StyleGAN

public struct TrainingState: Codable, Equatable {
    // Counters.
    public var nimg = 0
    public var iteration = 0
    public var adamGStep = 0
    public var adamDStep = 0
    /// The schedule phase of the last iteration (-1 before the first).
    public var lastPhase = -1
    /// Learning-rate factor per phase, halved after each non-finite step in it.
    public var lrScale: [Int: Float] = [:]
    /// ADA: the augmentation probability now, and sign(D(reals)) summed since its last adjustment.
    public var augmentP: Float?
    public var adaSignSum: Double?
    public var adaSignCount: Int?

    // Settings: nil where a run did not record one (it then gets the default).
    public var seed: UInt64?
    public var loss: String?
    public var r1Gamma: Float?
    public var r1Every: Int?
    public var mirror: Bool?
    public var resolution: Int?
    public var startResolution: Int?
    public var snapshotKimg: Double?
    public var resumedFrom: String?
    public var freezeD: Int?
    public var freezeMapping: Bool?
    public var dWarmupKimg: Double?
    public var metrics: [String]?
    public var augment: String?
    public var adaTarget: Float?
    public var adaKimg: Double?

    public init() {}

    static let key = "train.state"

    /// The state in a checkpoint's metadata; nil if it has none (an untrained `stylegan init` file).
    public init?(metadata meta: [String: String]) throws {
        if let json = meta[TrainingState.key] {
            let decoder = JSONDecoder()
            decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            do { self = try decoder.decode(TrainingState.self, from: Data(json.utf8)) } catch {
                throw StyleGANError.training("checkpoint metadata '\(TrainingState.key)' is not readable: \(error)")
            }
            return
        }
        guard let n = meta["train.nimg"].flatMap(Int.init), let it = meta["train.iteration"].flatMap(Int.init) else { return nil }
        // The format before this type: one string per field.
        (nimg, iteration) = (n, it)
        adamGStep = meta["train.adam_g_step"].flatMap(Int.init) ?? 0
        adamDStep = meta["train.adam_d_step"].flatMap(Int.init) ?? 0
        lastPhase = meta["train.last_phase"].flatMap(Int.init) ?? -1
        for part in (meta["train.lr_scale"] ?? "").split(separator: ",") {
            let kv = part.split(separator: ":")
            if kv.count == 2, let k = Int(kv[0]), let v = Float(kv[1]) { lrScale[k] = v }
        }
        seed = meta["train.seed"].flatMap(UInt64.init)
        loss = meta["train.loss"]
        r1Gamma = meta["train.r1_gamma"].flatMap(Float.init)
        r1Every = meta["train.r1_every"].flatMap(Int.init)
        mirror = meta["train.mirror"].flatMap(Bool.init)
        resolution = meta["train.resolution"].flatMap(Int.init)
        startResolution = meta["train.start_resolution"].flatMap(Int.init)
        snapshotKimg = meta["train.snap_kimg"].flatMap(Double.init)
        resumedFrom = meta["train.resumed_from"]
        freezeD = meta["train.freeze_d"].flatMap(Int.init)
        freezeMapping = meta["train.freeze_mapping"].flatMap(Bool.init)
        dWarmupKimg = meta["train.d_warmup_kimg"].flatMap(Double.init)
        metrics = meta["train.metrics"].map { $0.split(separator: ",").map(String.init) }
    }

    /// The metadata entry that stores it.
    public var metadata: [String: String] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return [TrainingState.key: String(decoding: try! encoder.encode(self), as: UTF8.self)]
    }
}
