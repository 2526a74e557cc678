// ProgressiveSchedule: ProGAN's growth, in images shown. 4x4 stabilises for one phase, then each
// higher resolution fades in over one phase (alpha 0 -> 1) and stabilises for one; the final
// resolution then trains until the run ends. A run that starts from a pretrained network
// (`--resume-from`) starts at that network's resolution, stable, as if the growth before it had run.
import StyleGAN

public struct ProgressiveSchedule: Equatable {
    public let phaseKimg: Double
    public let finalResolution: Int
    public let startResolution: Int

    public init(phaseKimg: Double, finalResolution: Int, startResolution: Int = 4) {
        precondition(phaseKimg > 0 && finalResolution >= 4 && (4...finalResolution).contains(startResolution),
                     "schedule: phase \(phaseKimg) kimg, resolutions \(startResolution) to \(finalResolution)")
        (self.phaseKimg, self.finalResolution, self.startResolution) = (phaseKimg, finalResolution, startResolution)
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
        let p = max(0, kimg) / phaseKimg + Double(skippedPhases)
        let maxLevel = log2(finalResolution) - 2
        let phase = min(Int(p.rounded(.down)), 2 * maxLevel)
        let level = (phase + 1) / 2
        let alpha: Float = phase % 2 == 1 ? Float(p - Double(phase)) : 1
        return Position(resolution: 4 << level, alpha: min(max(alpha, 0), 1), phase: phase)
    }

    /// The phases before the start resolution is stable, which a pretrained network has done.
    var skippedPhases: Int { 2 * (log2(startResolution) - 2) }

    /// kimg at which every phase of the growth has run (the final resolution fully faded in).
    public var growthKimg: Double { Double(2 * (log2(finalResolution) - 2) + 1 - skippedPhases) * phaseKimg }
}
