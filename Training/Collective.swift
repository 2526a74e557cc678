// The process group of a data-parallel run (mpirun -np N stylegan train ...): this process's rank,
// the group's size, and the reductions the training step needs, over CMPI. A build without MPI,
// or a process that no launcher started, is the group of one, where every reduction is the
// identity: one process is the whole run.
import CMPI
import Foundation
import StyleGAN

public final class Collective {
    public let rank: Int
    public let size: Int
    public var isRoot: Bool { rank == 0 }

    /// One process alone (library use, tests): no MPI call is ever made.
    public static let single = Collective(rank: 0, size: 1, joined: false)

    /// Whether this binary was built with MPI (`STYLEGAN_MPI=1 swift build`).
    public static var available: Bool { sgm_has_mpi() != 0 }

    /// Did this process initialise MPI (and so must finalise or abort it)?
    let joined: Bool

    init(rank: Int, size: Int, joined: Bool) { (self.rank, self.size, self.joined) = (rank, size, joined) }

    /// The group a launcher started this process in, or the group of one. Throws if a build
    /// without MPI finds itself started as one of several ranks: every copy would train the whole
    /// batch alone and overwrite the same files.
    public static func world() throws -> Collective {
        var err = [CChar](repeating: 0, count: 512)
        guard sgm_init(&err, err.count) == 0 else {
            throw StyleGANError.training(String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return Collective(rank: Int(sgm_rank()), size: Int(sgm_size()), joined: true)
    }

    /// In-place sum over ranks of n floats (the same bits on every rank).
    public func sum(_ buffer: UnsafeMutablePointer<Float>, count n: Int) {
        if joined { sgm_allreduce_sum_f32(buffer, n) }
    }

    /// Elementwise sum / max / min over ranks.
    public func sum(_ values: [Double]) -> [Double] { reduce(values, SGM_SUM) }
    public func max(_ values: [Double]) -> [Double] { reduce(values, SGM_MAX) }
    public func min(_ values: [Double]) -> [Double] { reduce(values, SGM_MIN) }

    /// The mean over ranks (losses of equal shards average to the global batch's mean).
    public func mean(_ values: [Double]) -> [Double] {
        size == 1 ? values : sum(values).map { $0 / Double(size) }
    }

    /// True on every rank if it is true on any (stop requests, failures).
    public func any(_ flag: Bool) -> Bool { size == 1 ? flag : max([flag ? 1 : 0])[0] > 0 }

    func reduce(_ values: [Double], _ op: Int32) -> [Double] {
        guard joined, size > 1 else { return values }
        var v = values
        v.withUnsafeMutableBufferPointer { sgm_allreduce_f64($0.baseAddress, $0.count, op) }
        return v
    }

    /// Root's tensor data copied into every rank's tensor (same shapes everywhere).
    public func broadcast(_ t: Tensor, root: Int = 0) {
        if joined && size > 1 { t.withUnsafeMutableBufferPointer { sgm_broadcast($0.baseAddress, $0.count * MemoryLayout<Float>.size, Int32(root)) } }
    }

    /// Root's values on every rank.
    public func broadcast(_ values: [Double], root: Int = 0) -> [Double] {
        guard joined, size > 1 else { return values }
        var v = values
        v.withUnsafeMutableBytes { sgm_broadcast($0.baseAddress, $0.count, Int32(root)) }
        return v
    }

    /// Ends every rank (a rank that cannot go on must not leave the others waiting in a reduction).
    public func abort(code: Int32 = 1) -> Never {
        sgm_abort(code)
        fatalError("unreachable")
    }

    /// Runs `body` as this rank's part of a job, then finalizes. If it throws, the other ranks may
    /// be waiting in a reduction for this one: with more than one rank they are all ended (after
    /// the error is printed with this rank's number); alone, the error is rethrown.
    public func run<T>(_ body: () throws -> T) throws -> T {
        defer { if joined { sgm_finalize() } }
        do { return try body() } catch {
            if size > 1 {
                FileHandle.standardError.write(Data("Error (rank \(rank) of \(size)): \(error)\n".utf8))
                abort(code: 1)
            }
            throw error
        }
    }
}
