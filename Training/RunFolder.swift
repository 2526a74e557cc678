// The run folder that tools rely on: checkpoint-NNNNNN.safetensors (images shown, zero-padded),
// snapshot-NNNNNN.png, reals.png, stats.jsonl; which checkpoint is "latest"; pruning old ones.
import Foundation
import StyleGAN

public struct RunFolder {
    public let path: String

    /// Creates the folder and proves it writable before any training is done.
    public init(_ path: String) throws {
        self.path = path
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw StyleGANError.training("cannot create output folder \(path): \((error as NSError).localizedDescription)")
        }
        let probe = path + "/.write-test-\(getpid())"
        guard FileManager.default.createFile(atPath: probe, contents: Data("ok".utf8)) else {
            throw StyleGANError.training("output folder \(path) is not writable")
        }
        try? FileManager.default.removeItem(atPath: probe)
        // Temporary files of a run killed while writing: never complete, safe to remove.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] where name.hasPrefix(".") && name.contains(".tmp-") {
            try? FileManager.default.removeItem(atPath: path + "/" + name)
        }
    }

    public func checkpointPath(nimg: Int) -> String { path + "/" + String(format: "checkpoint-%06d.safetensors", nimg) }
    public func snapshotPath(nimg: Int) -> String { path + "/" + String(format: "snapshot-%06d.png", nimg) }

    /// Complete checkpoints (written atomically, so every listed name is whole), oldest first.
    public func checkpoints() -> [(nimg: Int, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("checkpoint-"), name.hasSuffix(".safetensors") else { return nil }
            let digits = name.dropFirst("checkpoint-".count).dropLast(".safetensors".count)
            guard let n = Int(digits) else { return nil }
            return (n, path + "/" + name)
        }.sorted { $0.0 < $1.0 }
    }

    /// Removes all but the newest `keep` checkpoints.
    public func prune(keep: Int) {
        for c in checkpoints().dropLast(keep) { try? FileManager.default.removeItem(atPath: c.path) }
    }

    /// Appends one JSON object as a line. Stats are a record, not state: a failed write warns
    /// and training goes on.
    public func appendStats(_ fields: [(String, any Encodable)]) {
        do { try JSONLine(fields).append(to: path + "/stats.jsonl") } catch {
            FileHandle.standardError.write(Data("warning: stats not written: \(error)\n".utf8))
        }
    }
}
