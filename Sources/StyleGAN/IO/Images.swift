// Between tensors and image files: generator outputs in [-1, 1] to 8-bit RGB PNGs (one image or
// a grid), and PNG / JPEG files to uint8 pixels, through CImage (libpng, libjpeg).
import CImage
import Foundation

/// 8-bit interleaved pixels (H, W, channels).
public struct Image {
    public var width: Int, height: Int, channels: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * channels, "image \(width)x\(height)x\(channels) with \(pixels.count) bytes")
        (self.width, self.height, self.channels, self.pixels) = (width, height, channels, pixels)
    }

    /// Reads a PNG or JPEG (decided by its bytes), every size checked by CImage.
    public static func read(_ path: String) throws -> Image {
        var img = cimage()
        var err = [CChar](repeating: 0, count: 256)
        guard cimage_read(path, &img, &err, err.count) == 0 else {
            throw StyleGANError.image("\(path): \(String(cString: err))")
        }
        defer { cimage_free(&img) }
        let n = Int(img.width) * Int(img.height) * Int(img.channels)
        return Image(width: Int(img.width), height: Int(img.height), channels: Int(img.channels),
                     pixels: Array(UnsafeBufferPointer(start: img.pixels, count: n)))
    }

    /// Writes a PNG atomically (`writeAtomically`), so a reader never sees half a file.
    public func writePNG(_ path: String) throws {
        try writeAtomically(to: path) { tmp in
            var err = [CChar](repeating: 0, count: 256)
            let rc = pixels.withUnsafeBufferPointer {
                cimage_write_png(tmp, $0.baseAddress, Int32(width), Int32(height), Int32(channels), &err, err.count)
            }
            guard rc == 0 else { throw StyleGANError.image("\(path): \(String(cString: err))") }
        }
    }

    /// Image `index` of a batch (N, 3, H, W) with values in [-1, 1], as NVlabs' convert_images_to_uint8.
    public init(_ batch: Tensor, index: Int) {
        precondition(batch.rank == 4 && (batch.shape[1] == 3 || batch.shape[1] == 1) && index < batch.shape[0],
                     "Image: batch \(batch.shape), index \(index)")
        let (c, h, w) = (batch.shape[1], batch.shape[2], batch.shape[3])
        var px = [UInt8](repeating: 0, count: h * w * c)
        let base = batch.data + index * c * h * w
        for ch in 0..<c {
            for i in 0..<(h * w) {
                let v = (base[ch * h * w + i] + 1) * 127.5
                px[i * c + ch] = UInt8(max(0, min(255, (v.isNaN ? 0 : v).rounded())))
            }
        }
        self.init(width: w, height: h, channels: c, pixels: px)
    }

    /// Images side by side in `columns` columns (rows filled left to right), with no gaps.
    public static func grid(_ images: [Image], columns: Int) -> Image {
        precondition(!images.isEmpty && columns >= 1, "grid of \(images.count) images")
        let (w, h, c) = (images[0].width, images[0].height, images[0].channels)
        precondition(images.allSatisfy { $0.width == w && $0.height == h && $0.channels == c }, "grid: images differ in size")
        let cols = min(columns, images.count), rows = (images.count + cols - 1) / cols
        var px = [UInt8](repeating: 0, count: rows * h * cols * w * c)
        for (k, img) in images.enumerated() {
            let (gy, gx) = (k / cols, k % cols)
            for y in 0..<h {
                let dst = ((gy * h + y) * cols * w + gx * w) * c
                px.replaceSubrange(dst..<(dst + w * c), with: img.pixels[(y * w * c)..<((y + 1) * w * c)])
            }
        }
        return Image(width: cols * w, height: rows * h, channels: c, pixels: px)
    }

    /// Nearest-neighbour upscaling by an integer factor (small snapshots shown at a visible size).
    public func upscaled(by f: Int) -> Image {
        if f <= 1 { return self }
        var px = [UInt8](repeating: 0, count: width * f * height * f * channels)
        for y in 0..<(height * f) {
            for x in 0..<(width * f) {
                for ch in 0..<channels { px[(y * width * f + x) * channels + ch] = pixels[((y / f) * width + x / f) * channels + ch] }
            }
        }
        return Image(width: width * f, height: height * f, channels: channels, pixels: px)
    }
}

extension Image {
    /// The centre square resized to r x r with Lanczos-3 (as `stylegan prepare` makes dataset
    /// images), as RGB; grey, grey + alpha and RGBA are refused (say how to convert).
    public func centreSquare(resolution r: Int) throws -> Image {
        guard channels == 3 else {
            throw StyleGANError.image("the image has \(channels) channel\(channels == 1 ? "" : "s") (\(channels == 1 ? "grey" : channels == 4 ? "RGBA" : "grey + alpha")); give an RGB image")
        }
        let side = min(width, height)
        guard side >= max(16, r / 4) else { throw StyleGANError.image("the image is \(width)x\(height): too small for a \(r)x\(r) network") }
        let (x0, y0) = ((width - side) / 2, (height - side) / 2)
        var out = [UInt8](repeating: 0, count: r * r * 3)
        let rc = pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                cimage_resize_lanczos3(src.baseAddress! + (y0 * width + x0) * 3, Int32(side), Int32(side), 3, 3, width * 3,
                                       dst.baseAddress!, Int32(r), Int32(r), 3, r * 3, 1)
            }
        }
        guard rc == 0 else { throw StyleGANError.image("could not resize the image to \(r)x\(r)") }
        return Image(width: r, height: r, channels: 3, pixels: out)
    }

    /// (1, 3, H, W) in [-1, 1] (x / 127.5 - 1).
    public var tensor: Tensor {
        let t = Tensor(uninitialized: [1, 3, height, width])
        for c in 0..<3 {
            for i in 0..<(width * height) { t.data[c * width * height + i] = Float(pixels[i * channels + min(c, channels - 1)]) / 127.5 - 1 }
        }
        return t
    }
}
