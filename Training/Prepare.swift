// `stylegan prepare`: turns a folder of PNG/JPEG images into the dataset cache that training and
// metrics memory-map (see StyleGAN/Data/DatasetCache.swift for the format). Each image is decoded,
// centre-cropped to a square, resized with Lanczos-3 to the final resolution, and box-averaged down
// to 4x4, as ProGAN's dataset tool does; the levels are streamed to their files, so memory holds a
// chunk of small images, never the decoded set.
// The output appears all at once or not at all: everything goes to DATA.partial-<pid>, the
// manifest last, fsync'ed, and the folder is renamed to DATA only when complete.
import CImage
import Dispatch
import Foundation
import StyleGAN

public struct DatasetPreparer {
    public var source: String
    public var dest: String
    public var resolution: Int
    public var mirror: Bool
    /// Replace an existing prepared dataset at `dest` (only once the new one is complete).
    public var force: Bool
    /// Print a `\r`-updated progress line on stderr.
    public var showProgress: Bool
    /// Class labels to store with the images (nil: an unlabelled set).
    public var labels: LabelSource?

    /// Where a labelled set's classes come from.
    public enum LabelSource: Equatable {
        /// One class per first-level subfolder of the source, named after it, in byte order.
        case subfolders
        /// A JSON file as NVIDIA's dataset tool reads: {"labels": [["dir/img.png", 3], ...]},
        /// paths relative to the source, integer classes from 0.
        case file(String)

        /// "subfolders" or a path to a dataset.json.
        public init(parsing text: String) {
            self = text == "subfolders" ? .subfolders : .file(text)
        }
    }

    public struct Result {
        public let manifest: DatasetManifest
        /// Files tried (images and everything else found under the source).
        public let filesTried: Int
        public let seconds: Double
    }

    public init(source: String, dest: String, resolution: Int = 256, mirror: Bool = false,
                force: Bool = false, showProgress: Bool = false, labels: LabelSource? = nil) throws {
        guard DatasetManifest.isValidResolution(resolution) else {
            throw StyleGANError.dataset("--resolution \(resolution) is not a power of two in 4...1024")
        }
        (self.source, self.dest, self.resolution, self.mirror, self.force, self.showProgress, self.labels) =
            (source, dest, resolution, mirror, force, showProgress, labels)
    }

    public func run() throws -> Result {
        let start = Date()
        let fm = FileManager.default
        let sourceDir = URL(fileURLWithPath: source).standardizedFileURL.path
        let destDir = URL(fileURLWithPath: dest).standardizedFileURL.path
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: sourceDir, isDirectory: &isDir), isDir.boolValue else {
            throw StyleGANError.dataset("--source \(source) is not a folder")
        }
        let replacing = try checkDestination(destDir)
        removeStalePartials(of: destDir)

        var skipped: [DatasetManifest.Skipped] = []
        var files = listFiles(under: sourceDir, excluding: destDir, skipped: &skipped)
        if case let .file(path) = labels {
            let labelsFile = URL(fileURLWithPath: path).standardizedFileURL.path
            files.removeAll { sourceDir + "/" + $0 == labelsFile }
        }
        guard !files.isEmpty else { throw StyleGANError.dataset("no files under \(source)") }
        // Every image's class is known before any is decoded.
        let classes = try labels.map { try classesOf(files, labels: $0) }

        let partial = destDir + ".partial-\(getpid())"
        do {
            try fm.createDirectory(atPath: partial, withIntermediateDirectories: false)
        } catch {
            throw StyleGANError.dataset("cannot create \(partial): \((error as NSError).localizedDescription)")
        }
        var finished = false
        defer { if !finished { try? fm.removeItem(atPath: partial) } }

        let (written, failures) = try writeLevels(files: files, sourceDir: sourceDir, into: partial)
        let count = written.count
        skipped += failures
        skipped.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        guard count > 0 else {
            let examples = skipped.prefix(5).map { "  \($0.path): \($0.reason)" }.joined(separator: "\n")
            throw StyleGANError.dataset("no readable images under \(source): all \(files.count) files were skipped, e.g.\n\(examples)")
        }

        let manifest = DatasetManifest(count: count, resolution: resolution, mirror: mirror, source: sourceDir, skipped: skipped,
                                       labels: classes.map { c in written.map { c.labels[$0]! } }, classNames: classes?.names)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try writeAtomically(try encoder.encode(manifest), to: partial + "/" + DatasetManifest.fileName)
        try moveIntoPlace(partial, destDir, replacing: replacing)
        finished = true
        return Result(manifest: manifest, filesTried: files.count, seconds: Date().timeIntervalSince(start))
    }

    // MARK: - Destination

    /// Refuses a non-empty DATA before any work is done; returns whether DATA is an old dataset
    /// to replace at the end (`--force`).
    private func checkDestination(_ destDir: String) throws -> Bool {
        let fm = FileManager.default
        let parent = URL(fileURLWithPath: destDir).deletingLastPathComponent().path
        do {
            try fm.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw StyleGANError.dataset("cannot create \(parent): \((error as NSError).localizedDescription)")
        }
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: destDir, isDirectory: &isDir) else { return false }
        guard isDir.boolValue else { throw StyleGANError.dataset("--dest \(dest) exists and is a file") }
        let contents = (try? fm.contentsOfDirectory(atPath: destDir)) ?? []
        if contents.isEmpty { return false }
        guard force else {
            throw StyleGANError.dataset("--dest \(dest) already exists and is not empty; choose another folder, or pass --force to replace a prepared dataset")
        }
        // --force must not delete a folder of someone's photos given as --dest by mistake.
        let manifest = destDir + "/" + DatasetManifest.fileName
        guard let data = fm.contents(atPath: manifest),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              json["format"] as? String == DatasetManifest.formatName else {
            throw StyleGANError.dataset("--dest \(dest) is not a prepared dataset (no valid \(DatasetManifest.fileName)); --force only replaces prepared datasets, remove it yourself if you mean to")
        }
        return true
    }

    /// Leftovers of killed runs (DATA.partial-PID, DATA.replaced-PID whose process is gone).
    private func removeStalePartials(of destDir: String) {
        let url = URL(fileURLWithPath: destDir)
        let parent = url.deletingLastPathComponent().path, name = url.lastPathComponent
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] {
            for marker in [".partial-", ".replaced-"] where entry.hasPrefix(name + marker) {
                guard let pid = Int32(entry.dropFirst(name.count + marker.count)), pid > 0 else { continue }
                if kill(pid, 0) != 0 && errno == ESRCH { try? FileManager.default.removeItem(atPath: parent + "/" + entry) }
            }
        }
    }

    private func moveIntoPlace(_ partial: String, _ destDir: String, replacing: Bool) throws {
        let parent = URL(fileURLWithPath: destDir).deletingLastPathComponent().path
        if replacing {
            // Two renames: DATA is briefly absent, never half-written.
            let old = destDir + ".replaced-\(getpid())"
            guard rename(destDir, old) == 0 else {
                throw StyleGANError.dataset("cannot move the old \(dest) aside: \(String(cString: strerror(errno)))")
            }
            guard rename(partial, destDir) == 0 else {
                let reason = String(cString: strerror(errno))
                rename(old, destDir)
                throw StyleGANError.dataset("cannot rename \(partial) to \(dest): \(reason)")
            }
            try? FileManager.default.removeItem(atPath: old)
        } else {
            // rename(2) replaces an empty folder and fails on a non-empty one, so a DATA made by
            // someone else meanwhile is not overwritten.
            guard rename(partial, destDir) == 0 else {
                throw StyleGANError.dataset("cannot rename \(partial) to \(dest): \(String(cString: strerror(errno)))")
            }
        }
        let fd = open(parent, O_RDONLY)
        if fd >= 0 { fsync(fd); close(fd) }
    }

    // MARK: - Listing

    /// Every regular file under `root` (relative paths, byte order, so the image order is the same
    /// on every machine). Symbolic links to files are read; links to folders are not followed
    /// (they can loop). The output folders are left out when they lie inside the source.
    private func listFiles(under root: String, excluding destDir: String, skipped: inout [DatasetManifest.Skipped]) -> [String] {
        var files: [String] = []
        func walk(_ rel: String) {
            let dir = rel.isEmpty ? root : root + "/" + rel
            if dir == destDir || dir.hasPrefix(destDir + ".partial-") || dir.hasPrefix(destDir + ".replaced-") { return }
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
                skipped.append(.init(path: rel.isEmpty ? "." : rel, reason: "cannot list folder"))
                return
            }
            for name in names {
                let r = rel.isEmpty ? name : rel + "/" + name
                var st = stat()
                guard lstat(root + "/" + r, &st) == 0 else {
                    skipped.append(.init(path: r, reason: "cannot stat: \(String(cString: strerror(errno)))"))
                    continue
                }
                switch st.st_mode & S_IFMT {
                case S_IFDIR: walk(r)
                case S_IFREG: files.append(r)
                case S_IFLNK:
                    var target = stat()
                    if stat(root + "/" + r, &target) != 0 {
                        skipped.append(.init(path: r, reason: "broken symbolic link"))
                    } else if target.st_mode & S_IFMT == S_IFREG {
                        files.append(r)
                    } else {
                        skipped.append(.init(path: r, reason: "symbolic link to a folder, not followed"))
                    }
                default: skipped.append(.init(path: r, reason: "not a regular file"))
                }
            }
        }
        walk("")
        return files.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    // MARK: - Labels

    /// The class of each image file (by index in `files`) and the class names. Files that are not
    /// named as images (.png, .jpg, .jpeg) need no label: they are skipped as images anyway.
    private func classesOf(_ files: [String], labels: LabelSource) throws -> (labels: [Int: Int], names: [String]) {
        let images = files.indices.filter { i in ["png", "jpg", "jpeg"].contains(URL(fileURLWithPath: files[i]).pathExtension.lowercased()) }
        func missing(_ which: [Int], _ why: String) -> StyleGANError {
            let examples = which.prefix(5).map { "  " + files[$0] }.joined(separator: "\n")
            return .dataset("\(why): \(which.count) image\(which.count == 1 ? "" : "s"), e.g.\n\(examples)")
        }
        switch labels {
        case .subfolders:
            let atTop = images.filter { !files[$0].contains("/") }
            guard atTop.isEmpty else { throw missing(atTop, "not in a class subfolder (--labels subfolders takes one subfolder per class)") }
            let folder = { (i: Int) in String(files[i].prefix { $0 != "/" }) }
            let names = Set(images.map(folder)).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            guard !names.isEmpty else { throw StyleGANError.dataset("--labels subfolders: no images in subfolders of \(source)") }
            let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
            return (Dictionary(uniqueKeysWithValues: images.map { ($0, index[folder($0)]!) }), names)
        case .file(let path):
            let byPath = try Self.readLabelsFile(path)
            let unlabelled = images.filter { byPath[files[$0]] == nil }
            guard unlabelled.isEmpty else { throw missing(unlabelled, "no label in \(path)") }
            let classes = (images.map { byPath[files[$0]]! }.max() ?? -1) + 1
            guard classes > 0 else { throw StyleGANError.dataset("\(path): no labelled images under \(source)") }
            return (Dictionary(uniqueKeysWithValues: images.map { ($0, byPath[files[$0]]!) }), (0..<classes).map(String.init))
        }
    }

    /// NVIDIA's dataset.json: {"labels": [[path, class], ...]}; classes are integers in 0...65535.
    static func readLabelsFile(_ path: String) throws -> [String: Int] {
        guard let data = FileManager.default.contents(atPath: path) else { throw StyleGANError.dataset("--labels \(path): cannot be read") }
        guard let json = try? JSONSerialization.jsonObject(with: data), let top = json as? [String: Any] else {
            throw StyleGANError.dataset("--labels \(path): not a JSON object (expected {\"labels\": [[\"file.png\", 0], ...]})")
        }
        guard let entries = top["labels"] as? [Any] else {
            throw StyleGANError.dataset("--labels \(path): no \"labels\" list (expected {\"labels\": [[\"file.png\", 0], ...]})")
        }
        var out: [String: Int] = [:]
        for (k, entry) in entries.enumerated() {
            guard let pair = entry as? [Any], pair.count == 2, let file = pair[0] as? String else {
                throw StyleGANError.dataset("--labels \(path): entry \(k) is not [\"file\", class]")
            }
            // JSON true/false arrive as NSNumber too (a boolean subclass on Linux's Foundation).
            guard let number = pair[1] as? NSNumber, !String(describing: type(of: number)).contains("Boolean"),
                  let label = Int(exactly: number.doubleValue) else {
                throw StyleGANError.dataset("--labels \(path): \(file)'s label \(pair[1]) is not an integer class (vector labels are not supported)")
            }
            guard (0...65535).contains(label) else {
                throw StyleGANError.dataset("--labels \(path): \(file)'s label \(label) is out of range (classes are 0 to 65535)")
            }
            let key = URL(fileURLWithPath: file, relativeTo: URL(fileURLWithPath: "/")).standardizedFileURL.path.dropFirst()
            if let earlier = out[String(key)], earlier != label {
                throw StyleGANError.dataset("--labels \(path): \(file) is labelled twice (\(earlier) and \(label))")
            }
            out[String(key)] = label
        }
        return out
    }

    // MARK: - Images to levels

    /// Byte offset of each level (final resolution first, then halving down to 4) in one image's buffer.
    private var levelLayout: (sizes: [Int], offsets: [Int], total: Int) {
        let sizes = DatasetManifest.resolutions(upTo: resolution).reversed().map { 3 * $0 * $0 }
        var offsets: [Int] = [], total = 0
        for s in sizes { offsets.append(total); total += s }
        return (sizes, offsets, total)
    }

    /// Decodes, crops, resizes and reduces files in parallel chunks, appending each readable image
    /// to the level files in listing order. Returns the indices (in `files`) written and the files that failed.
    private func writeLevels(files: [String], sourceDir: String, into partial: String) throws -> ([Int], [DatasetManifest.Skipped]) {
        let layout = levelLayout
        let levelRes = DatasetManifest.resolutions(upTo: resolution).reversed().map { $0 }
        var fds: [Int32] = []
        defer { for fd in fds { close(fd) } }
        for r in levelRes {
            let file = partial + "/" + DatasetManifest.levelFileName(r)
            let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            guard fd >= 0 else { throw StyleGANError.dataset("cannot create \(file): \(String(cString: strerror(errno)))") }
            fds.append(fd)
        }

        // A chunk's worth of levels is what is held at once: a few per core, at most ~128 MiB.
        let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let chunk = max(2 * workers, min(256, (128 << 20) / layout.total))
        var buffer = [UInt8](repeating: 0, count: chunk * layout.total)
        var reasons = [String?](repeating: nil, count: chunk)
        let progress = showProgress ? ProgressLine(total: files.count, unit: "img") : nil
        var written: [Int] = []
        var failures: [DatasetManifest.Skipped] = []

        for base in stride(from: 0, to: files.count, by: chunk) {
            let n = min(chunk, files.count - base)
            buffer.withUnsafeMutableBufferPointer { buf in
                reasons.withUnsafeMutableBufferPointer { why in
                    let (bufBase, whyBase) = (buf.baseAddress!, why.baseAddress!)
                    DispatchQueue.concurrentPerform(iterations: n) { i in
                        whyBase[i] = prepareImage(sourceDir + "/" + files[base + i], into: bufBase + i * layout.total, layout: layout)
                        progress?.advance()
                    }
                }
            }
            for i in 0..<n {
                if let reason = reasons[i] {
                    failures.append(.init(path: files[base + i], reason: reason))
                    continue
                }
                for (l, fd) in fds.enumerated() {
                    try buffer.withUnsafeBufferPointer {
                        try writeAll(fd, $0.baseAddress! + i * layout.total + layout.offsets[l], layout.sizes[l]) {
                            .dataset("\(partial)/\(DatasetManifest.levelFileName(levelRes[l])): \($0)")
                        }
                    }
                }
                written.append(base + i)
            }
        }
        progress?.finish()
        for (l, fd) in fds.enumerated() where fsync(fd) != 0 {
            throw StyleGANError.dataset("\(partial)/\(DatasetManifest.levelFileName(levelRes[l])): fsync failed: \(String(cString: strerror(errno)))")
        }
        return (written, failures)
    }

    /// One file to its levels (CHW planes, final resolution first); nil, or why it was skipped.
    private func prepareImage(_ path: String, into out: UnsafeMutablePointer<UInt8>,
                              layout: (sizes: [Int], offsets: [Int], total: Int)) -> String? {
        var img = cimage()
        var err = [CChar](repeating: 0, count: 256)
        guard cimage_read(path, &img, &err, err.count) == 0 else { return String(cString: err) }
        defer { cimage_free(&img) }
        let (w, h, ch) = (Int(img.width), Int(img.height), Int(img.channels))
        let side = min(w, h), r = resolution, plane = r * r
        // Centre crop: an offset into the decoded pixels with the full row stride, no copy.
        let cropOffset: Int = ((h - side) / 2 * w + (w - side) / 2) * ch
        let src = UnsafePointer(img.pixels! + cropOffset)
        // Grey is resized once and copied to G and B. RGBA drops its alpha (as PIL's
        // convert("RGB"), which the Python tools apply): compositing on black would turn the
        // transparent surround of cut-outs into black, which the network would then learn.
        let resized = cimage_resize_lanczos3(src, Int32(side), Int32(side), ch == 1 ? 1 : 3, ch, w * ch,
                                             out, Int32(r), Int32(r), 1, r, plane)
        guard resized == 0 else { return "out of memory while resizing \(w)x\(h)" }
        if ch == 1 {
            (out + plane).update(from: out, count: plane)
            (out + 2 * plane).update(from: out, count: plane)
        }
        let lower = layout.offsets.dropFirst().map { Optional(out + $0) }
        guard lower.withUnsafeBufferPointer({ cimage_box_levels(out, Int32(r), 3, Int32(lower.count), $0.baseAddress) }) == 0 else {
            return "out of memory while reducing"
        }
        return nil
    }
}
