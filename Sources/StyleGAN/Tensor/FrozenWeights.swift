// Work over which the parameters do not change (one training step's forwards and backwards, a
// run of generation) derives from them only once: spectrally normalised weights, the fused
// up/down kernels, scaled biases, and Winograd's transformed 3x3 weights, which were recomputed at
// every use. A D weight is used by the reals' and the fakes' forwards, R1's gradient and the
// backward of all three; at 8 px the weight transforms were 14% of a training step. (The
// equalised-lr scale itself costs nothing: the products apply it as their gain.)
//
// The cache is a value the forwards take (`cache:`), made by `during` and closed when it returns;
// graph nodes recorded inside keep it, so their backward uses the same transforms, and a closed
// cache serves nothing. Parameters are updated (Adam) only when no open cache has derived from
// them: the optimiser checks, so a cached tensor can never be stale.
import CKernels
import Foundation

public final class FrozenWeights: @unchecked Sendable {  // used by one task at a time; `open` is locked
    /// Runs `body` with a cache of the tensors derived from the parameters, until it returns; the
    /// Winograd transforms are kept only for `reused`, the parameters that `body` convolves with
    /// several times (a transform used once costs as much made on the fly, and keeping it costs
    /// memory). The caller promises not to modify parameters inside.
    /// `maxTiles` bounds the convolutions whose transforms are kept (see `defaultMaxTiles`).
    public static func during<T>(keepingTransformsOf reused: NamedParameters = [], maxTiles: Int = defaultMaxTiles,
                                 _ body: (FrozenWeights) throws -> T) rethrows -> T {
        let cache = FrozenWeights(reused: Set(reused.map { ObjectIdentifier($0.1) }), maxTiles: maxTiles)
        defer { cache.close() }
        return try body(cache)
    }

    private init(reused: Set<ObjectIdentifier>, maxTiles: Int) { (self.reused, self.maxTiles) = (reused, maxTiles) }

    /// The parameters each open cache has derived from (for `isFrozen`).
    private static let sources = Locked([ObjectIdentifier: Set<ObjectIdentifier>]())
    private var isOpen = true

    private func close() {
        isOpen = false
        derived = [:]
        transformed = [:]
        FrozenWeights.sources.withLock { $0[ObjectIdentifier(self)] = nil }
    }

    /// Whether an open cache holds something derived from `parameter` (it must not change).
    public static func isFrozen(_ parameter: Tensor) -> Bool {
        let id = ObjectIdentifier(parameter)
        return sources.withLock { $0.values.contains { $0.contains(id) } }
    }

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

    /// `make()`, computed once per stretch of `cache` for (`source`, `tag`) and then reused; with
    /// no cache (or a closed one), at every call. A value made while the graph was recorded is not shared with a use that
    /// records nothing, and vice versa (one has a gradient path to `source`, the other none).
    static func derived(_ cache: FrozenWeights?, from source: Tensor, _ tag: String, _ make: () -> Tensor) -> Tensor {
        guard let cache, cache.isOpen else { return make() }
        let key = Key(source: ObjectIdentifier(source), tag: tag, recorded: GradMode.enabled && source.requiresGrad)
        if let hit = cache.derived[key] { return hit.value }
        let value = make()
        cache.derived[key] = (source, value)
        sources.withLock { $0[ObjectIdentifier(cache), default: []].insert(key.source) }
        if cache.reused.contains(key.source) { cache.transformable.insert(ObjectIdentifier(value)) }
        return value
    }

    /// The Winograd-transformed `gain` * `w` for the 3x3 convolution `geo` (for the forward and
    /// the input gradient alike), made once per stretch, when `w` is a reused parameter or was
    /// derived in this stretch from one, and the conv takes the Winograd route at a size where
    /// keeping the transform pays; nil otherwise (the kernel transforms it).
    static func winogradWeights(_ cache: FrozenWeights?, _ w: Tensor, gain: Float, _ geo: ConvGeometry) -> Tensor? {
        guard let frozen = cache, frozen.isOpen else { return nil }
        let id = ObjectIdentifier(w)
        guard frozen.reused.contains(id) || frozen.transformable.contains(id),
              geo.call(conv2d_winograd) != 0,
              winograd3x3_tiles(Int32(geo.n), Int32(geo.h), Int32(geo.w)) <= frozen.maxTiles else { return nil }
        let key = TransformKey(weight: id, gain: gain.bitPattern)
        if let hit = frozen.transformed[key] { return hit }
        sources.withLock { $0[ObjectIdentifier(frozen), default: []].insert(id) }
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

/// A value behind a lock.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
