// Work over which the parameters do not change (one training step's forwards and backwards, a
// run of generation) derives from them only once: spectrally normalised weights, the fused
// up/down kernels, scaled biases, and Winograd's transformed 3x3 weights, which were recomputed at
// every use. A D weight is used by the reals' and the fakes' forwards, R1's gradient and the
// backward of all three; at 8 px the weight transforms were 14% of a training step. (The
// equalised-lr scale itself costs nothing: the products apply it as their gain.)
//
// Parameters are updated in place (Adam, EMA, loading) only outside a frozen stretch: the
// optimiser refuses to run inside one, so a cached tensor can never be stale.
import CKernels

public final class FrozenWeights: @unchecked Sendable {  // used only by the task that opened it
    @TaskLocal static var current: FrozenWeights?
    /// Off: `during` caches nothing (tests compare the two).
    @TaskLocal static var enabled = true

    /// Runs `body` with the derived tensors of every parameter cached until it returns; the
    /// Winograd transforms are kept only for `reused`, the parameters that `body` convolves with
    /// several times (a transform used once costs as much made on the fly, and keeping it costs
    /// memory). The caller promises not to modify parameters inside.
    /// `maxTiles` bounds the convolutions whose transforms are kept (see `defaultMaxTiles`).
    public static func during<T>(keepingTransformsOf reused: NamedParameters = [], maxTiles: Int = defaultMaxTiles,
                                 _ body: () throws -> T) rethrows -> T {
        guard enabled else { return try body() }
        return try $current.withValue(FrozenWeights(reused: Set(reused.map { ObjectIdentifier($0.1) }), maxTiles: maxTiles)) { try body() }
    }

    private init(reused: Set<ObjectIdentifier>, maxTiles: Int) { (self.reused, self.maxTiles) = (reused, maxTiles) }

    /// Whether the calling task is inside `during` (parameters must not be modified).
    public static var isActive: Bool { current != nil }

    /// Winograd-transformed weights are kept only for convolutions of at most this many 4x4 output
    /// tiles (batch x tiles per image), where the transform is a noticeable share of the work (it
    /// costs about what the product of one tile does); at larger sizes it is not, and keeping them
    /// would only add memory. At most `transformedBudget` bytes are kept per stretch. Training
    /// (each weight convolved several times per step) keeps up to 256 tiles; generation of one
    /// image at a time keeps 16 (the 4-16 px layers): at 1024 px the 32 and 64 px layers' transforms
    /// would hold 120 MB for 0.3% of the time.
    public static let defaultMaxTiles = 256
    public static let generationMaxTiles = 16
    static let transformedBudget = 384 << 20
    private let maxTiles: Int

    private struct Key: Hashable {
        let source: ObjectIdentifier, tag: String, recorded: Bool
    }

    /// (source kept alive so that its identifier is not reused within the stretch, derived tensor)
    private var derived: [Key: (source: Tensor, value: Tensor)] = [:]
    private let reused: Set<ObjectIdentifier>
    /// Derived tensors whose Winograd transforms may be kept (derived from `reused` parameters).
    private var transformable = Set<ObjectIdentifier>()
    private struct TransformKey: Hashable {
        let weight: ObjectIdentifier, gain: UInt32
    }
    private var transformed: [TransformKey: Tensor] = [:]
    private var transformedBytes = 0
    /// Transforms made in this stretch (for tests).
    private(set) var transformsMade = 0

    /// `make()`, computed once per stretch for (`source`, `tag`) and then reused; outside a stretch,
    /// at every call. A value made while the graph was recorded is not shared with a use that
    /// records nothing, and vice versa (one has a gradient path to `source`, the other none).
    static func derived(from source: Tensor, _ tag: String, _ make: () -> Tensor) -> Tensor {
        guard let frozen = current else { return make() }
        let key = Key(source: ObjectIdentifier(source), tag: tag, recorded: GradMode.enabled && source.requiresGrad)
        if let hit = frozen.derived[key] { return hit.value }
        let value = make()
        frozen.derived[key] = (source, value)
        if frozen.reused.contains(key.source) { frozen.transformable.insert(ObjectIdentifier(value)) }
        return value
    }

    /// The Winograd-transformed `gain` * `w` for the 3x3 convolution `geo` (for the forward and
    /// the input gradient alike), made once per stretch, when `w` is a reused parameter or was
    /// derived in this stretch from one, and the conv takes the Winograd route at a size where
    /// keeping the transform pays; nil otherwise (the kernel transforms it).
    static func winogradWeights(_ w: Tensor, gain: Float, _ geo: ConvGeometry) -> Tensor? {
        guard let frozen = current else { return nil }
        let id = ObjectIdentifier(w)
        guard frozen.reused.contains(id) || frozen.transformable.contains(id),
              geo.call(conv2d_winograd) != 0,
              winograd3x3_tiles(Int32(geo.n), Int32(geo.h), Int32(geo.w)) <= frozen.maxTiles else { return nil }
        let key = TransformKey(weight: id, gain: gain.bitPattern)
        if let hit = frozen.transformed[key] { return hit }
        let floats = winograd3x3_weights_floats(Int32(geo.cin), Int32(geo.cout))
        guard frozen.transformedBytes + floats * 4 <= transformedBudget else { return nil }
        let u = Tensor(uninitialized: [floats])
        winograd3x3_transform_weights(u.data, w.data, Int32(geo.cin), Int32(geo.cout), gain)
        frozen.transformedBytes += floats * 4
        frozen.transformsMade += 1
        frozen.transformed[key] = u
        return u
    }
}
