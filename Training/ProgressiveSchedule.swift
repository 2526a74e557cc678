// ProgressiveSchedule: ProGAN's growth, in images shown. 4x4 stabilises for one phase, then each
// higher resolution fades in over one phase (alpha 0 -> 1) and stabilises for one; the final
// resolution then trains until the run ends.
public struct ProgressiveSchedule: Equatable {
    public let phaseKimg: Double
    public let finalResolution: Int

    public init(phaseKimg: Double, finalResolution: Int) {
        precondition(phaseKimg > 0 && finalResolution >= 4, "schedule: phase \(phaseKimg) kimg, resolution \(finalResolution)")
        (self.phaseKimg, self.finalResolution) = (phaseKimg, finalResolution)
    }

    public struct Position: Equatable {
        public var resolution: Int
        public var alpha: Float
        /// 0 for 4x4, then 2 per resolution (odd: fading in, even: stabilising).
        public var phase: Int
        public var fading: Bool { alpha < 1 }
        public var name: String { fading ? "fade-in \(resolution)x\(resolution)" : "stabilise \(resolution)x\(resolution)" }
    }

    /// Where training is after `kimg` thousand images.
    public func position(kimg: Double) -> Position {
        let p = max(0, kimg) / phaseKimg
        let maxLevel = log2(finalResolution) - 2
        let phase = min(Int(p.rounded(.down)), 2 * maxLevel)
        let level = (phase + 1) / 2
        let alpha: Float = phase % 2 == 1 ? Float(p - Double(phase)) : 1
        return Position(resolution: 4 << level, alpha: min(max(alpha, 0), 1), phase: phase)
    }

    /// kimg at which every phase of the growth has run (the final resolution fully faded in).
    public var growthKimg: Double { Double(2 * (log2(finalResolution) - 2) + 1) * phaseKimg }
}

func log2(_ r: Int) -> Int { r.trailingZeroBitCount }
