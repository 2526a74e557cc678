// The trainer's part in data-parallel runs: shard sizes that keep the minibatch-stddev groups of
// one process, proof that all ranks start from the same state, rank 0's state sent to the others
// after a roll-back, and the per-rank state checksums of the debug option.
import Foundation
import StyleGAN

extension Trainer {
    /// The global batch b at resolution r must split into equal shards that hold whole
    /// minibatch-stddev groups; otherwise ranks would form other groups than one process does.
    static func checkShards(batch b: Int, resolution r: Int, ranks: Int, groupSize: Int) throws {
        guard ranks > 1 else { return }
        guard b % ranks == 0 else {
            throw StyleGANError.training("batch \(b) at \(r) px does not split evenly over \(ranks) processes; use a batch that is a multiple of \(ranks)")
        }
        if groupSize > 1 && (b / ranks) % groupSize != 0 {
            throw StyleGANError.training("batch \(b) at \(r) px gives each of \(ranks) processes \(b / ranks) images, not a multiple of the minibatch-stddev group size \(groupSize); use a batch that is a multiple of \(ranks * groupSize)")
        }
    }

    /// Every tensor that training changes: both networks, the EMA generator, their buffers
    /// (w_avg, spectral-norm vectors) and Adam's moments, in a fixed order.
    var liveTensors: [Tensor] {
        (gan.namedTensors + adamG.stateTensors(prefix: "g") + adamD.stateTensors(prefix: "d")).map(\.1)
    }

    /// Ranks must start alike: a resumed run reads the checkpoint on every rank, so it must be
    /// the same file at the same path on every host.
    func checkRanksAgree() throws {
        guard collective.size > 1 else { return }
        // Counters and the state checksum, as doubles that reduce exactly (the checksum in halves).
        let h = stateChecksum(liveTensors)
        let mine = [Double(nimg), Double(iteration), Double(adamG.step), Double(adamD.step), Double(h >> 32), Double(h & 0xFFFF_FFFF)]
        guard collective.min(mine) == collective.max(mine) else {
            throw StyleGANError.training("the \(collective.size) processes do not start from the same state (rank \(collective.rank): \(Int(mine[0])) images shown); when resuming, every host needs the same checkpoint at the same path (a shared run folder, or a copy)")
        }
    }

    /// Rank 0's tensors and counters to every other rank (after rank 0 alone reloaded them); every rank calls it.
    func shareRootState() {
        guard collective.size > 1 else { return }
        for t in liveTensors { collective.broadcast(t) }
        let v = collective.broadcast([Double(adamG.step), Double(adamD.step), Double(lastPhase)])
        (adamG.step, adamD.step, lastPhase) = (Int(v[0]), Int(v[1]), Int(v[2]))
    }

    /// Debug (`--debug-rank-checksums`): this rank's state checksum after an iteration.
    func appendRankChecksum() {
        guard options.rankChecksums else { return }
        let path = run.path + "/rank-checksums-\(collective.rank).txt"
        let line = Data(String(format: "%d %d %016llx\n", iteration, nimg, stateChecksum(liveTensors)).utf8)
        if let h = FileHandle(forWritingAtPath: path) {
            h.seekToEndOfFile()
            h.write(line)
            try? h.close()
        } else {
            _ = FileManager.default.createFile(atPath: path, contents: line)
        }
    }
}
