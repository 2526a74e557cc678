// Inception features of many images: batches with a progress line, the readers of a prepared
// dataset or a folder of images, and where a set's features are cached.
import Foundation

extension InceptionV3 {
    /// Runs the network over `count` images in batches, with a progress line on stderr.
    public func extract(count: Int, batch: Int = 16, progress: Bool = true, label: String, load: (Range<Int>) throws -> Tensor) throws -> Tensor {
        let out = Tensor(uninitialized: [count, InceptionV3.featureCount])
        let line = ProgressLine(total: count, unit: "img", enabled: progress)
        // The Winograd transforms of the 3x3 weights, made once for all batches.
        try FrozenWeights.during(keepingTransformsOf: parameters) { cache in
        for first in stride(from: 0, to: count, by: batch) {
            let range = first..<min(first + batch, count)
            let f = features(uint8: try load(range), cache: cache)
            (out.data + first * InceptionV3.featureCount).update(from: f.data, count: f.count)
            line.update(done: range.upperBound, text: "Inception features (\(label)): \(range.upperBound) / \(count) images")
        }
        }
        line.finish()
        return out
    }

    /// A prepared dataset (its top resolution) or a folder of images: count, batch loader, cache key.
    public static func reader(_ path: String, limit: Int?) throws -> (Int, (Range<Int>) throws -> Tensor, String) {
        if let data = try? DatasetCache.open(path) {
            let n = min(limit ?? data.count, data.count)
            let r = data.resolution
            let loader: (Range<Int>) throws -> Tensor = { range in InceptionV3.batch(range.map { data.uint8Image(resolution: r, index: $0) }) }
            return (n, loader, "dataset|\(data.count)|\(r)|\(data.manifest.source)|\(n)")
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw StyleGANError.metric("\(path): neither a prepared dataset nor a folder of images")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: path)
            .filter { ["png", "jpg", "jpeg"].contains(URL(fileURLWithPath: $0).pathExtension.lowercased()) }.sorted()
        guard !names.isEmpty else { throw StyleGANError.metric("\(path): no PNG or JPEG files") }
        let files = Array(names.prefix(limit ?? names.count))
        var key = "folder"
        for f in files {
            let a = try? FileManager.default.attributesOfItem(atPath: path + "/" + f)
            key += "|\(f):\((a?[.size] as? Int) ?? 0):\((a?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
        }
        let loader: (Range<Int>) throws -> Tensor = { range in
            let images = try range.map { i -> Image in
                do { return try Image.read(path + "/" + files[i]) } catch { throw StyleGANError.metric("\(error)") }
            }
            if images.allSatisfy({ $0.width == images[0].width && $0.height == images[0].height }) { return InceptionV3.batch(images) }
            // Images of different sizes each go through the network's resize alone, first.
            return concat(images.map { img in
                let t = InceptionV3.batch([img])
                return img.width == 299 && img.height == 299 ? t : GradMode.withoutGrad { t.resizedBilinear(height: 299, width: 299, halfPixelCentres: false) }
            }, axis: 0)
        }
        return (files.count, loader, key)
    }

    /// Where a set's features are cached: beside the dataset (a hidden file named by the key's hash).
    public static func cachePath(_ path: String, key: String) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in key.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return path + "/" + String(format: ".inception-features-%016llx.safetensors", h)
    }

    /// A file's identity in cache keys: its size and modification time.
    public static func fileIdentity(_ path: String) -> String {
        let a = try? FileManager.default.attributesOfItem(atPath: path)
        return "\((a?[.size] as? Int) ?? 0)-\((a?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
    }

    /// Features of a dataset or folder, cached beside it (a cache that cannot be written only
    /// costs the next run the time).
    public func cachedFeatures(_ path: String, limit: Int?, inceptionPath: String, batch: Int = 16, progress: Bool = true) throws -> Tensor {
        let (count, loader, key) = try InceptionV3.reader(path, limit: limit)
        let cacheFile = InceptionV3.cachePath(path, key: key + "|" + InceptionV3.fileIdentity(inceptionPath))
        if let cached = try? SafetensorsFile.read(cacheFile).tensors["features"], cached.shape == [count, InceptionV3.featureCount] {
            if progress { FileHandle.standardError.write(Data("using cached Inception features of \(path) (\(cacheFile))\n".utf8)) }
            return cached
        }
        let features = try extract(count: count, batch: batch, progress: progress, label: URL(fileURLWithPath: path).lastPathComponent, load: loader)
        try? SafetensorsFile.write([("features", features)], metadata: ["key": key], to: cacheFile)
        return features
    }
}
