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
        try data.withUnsafeBytes { try writeAll(fd, $0.baseAddress, $0.count) { .file(path, $0) } }
    }
}

/// Writes `count` bytes from `p` to `fd` (retrying interrupted writes); a failure is thrown as
/// `fail("write failed: <reason>")`. `p` may be nil when `count` is 0.
public func writeAll(_ fd: Int32, _ p: UnsafeRawPointer?, _ count: Int, _ fail: (String) -> StyleGANError) throws {
    var done = 0
    while done < count {
        let n = Foundation.write(fd, p! + done, count - done)
        if n < 0 {
            if errno == EINTR { continue }
            throw fail("write failed: \(String(cString: strerror(errno)))")
        }
        done += n
    }
}

/// The bytes of the file at `path`, memory-mapped; a failure is thrown as `fail("cannot read: <reason>")`.
func mappedFile(_ path: String, orThrow fail: (String) -> StyleGANError) throws -> Data {
    do { return try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
        throw fail("cannot read: \((error as NSError).localizedDescription)")
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
