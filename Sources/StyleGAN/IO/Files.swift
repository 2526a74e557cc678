// Writing files so that a crash, a full disk or a kill never leaves half a file under the real
// name: every output (checkpoints, weights, .npy, PNGs, manifests) goes to a temporary name in
// the same folder, is fsynced, renamed over the target, and the folder is fsynced.
import Foundation

/// Writes `data` to `path` atomically.
public func writeAtomically(_ data: Data, to path: String) throws {
    try writeAtomically(to: path) { tmp in
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw StyleGANError.file(path, "cannot create \(tmp): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        try data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw StyleGANError.file(path, "write failed: \(String(cString: strerror(errno)))")
                }
                done += n
            }
        }
    }
}

/// Lets `write` produce the file at a temporary path, then makes it durable and gives it its
/// name; the temporary file is removed if anything fails.
public func writeAtomically(to path: String, _ write: (String) throws -> Void) throws {
    let url = URL(fileURLWithPath: path)
    let dir = url.deletingLastPathComponent().path
    let tmp = dir + "/.\(url.lastPathComponent).tmp-\(getpid())"
    do {
        try write(tmp)
        let fd = open(tmp, O_RDONLY)
        guard fd >= 0 else { throw StyleGANError.file(path, "cannot reopen \(tmp): \(String(cString: strerror(errno)))") }
        let synced = fsync(fd) == 0
        close(fd)
        guard synced else { throw StyleGANError.file(path, "fsync failed: \(String(cString: strerror(errno)))") }
        guard rename(tmp, path) == 0 else { throw StyleGANError.file(path, "rename failed: \(String(cString: strerror(errno)))") }
    } catch {
        unlink(tmp)
        throw error
    }
    let dfd = open(dir, O_RDONLY)
    if dfd >= 0 { fsync(dfd); close(dfd) }
}
